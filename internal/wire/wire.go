// Package wire is the hot-path codec for the batches that cross worker processes: tuples
// and acker control messages, encoded as the protobuf message sparse.v1.Batch
// (api/proto/sparse/v1/tuple.proto).
//
// The codec is written by hand with protowire rather than through the generated types,
// which would build and then copy an intermediate message tree for every batch. Its bytes
// are ordinary protobuf: proto.Unmarshal of Encoder's output into a sparsev1.Batch gives
// the same tuples, and Decode reads whatever proto.Marshal of a sparsev1.Batch writes, so
// the wire can be read and written in any language with the .proto file.
//
// Decode is written for input from the network: it never panics, bounds what it
// allocates by the size of its input, limits the nesting of lists and maps to MaxDepth,
// rejects strings that are not valid UTF-8 (as proto3 requires), and names in every
// error the offset and field that are wrong. It is stricter than generated code in one
// way: a known field with the wrong wire type is an error, not an unknown field, since it
// means the two sides disagree about the schema. Unknown fields are skipped, so that
// fields can be added later.
package wire

// ProtocolVersion is the version of the batch encoding and of the transport protocol
// that a worker announces in its Hello (sparse.v1.Hello.protocol_version). Version 2
// added Tuple.init_carried, which a worker of version 1 would skip, losing the init.
const ProtocolVersion uint32 = 2

// MaxDepth is how deeply lists and maps may nest in a value, as tuple.Normalize allows:
// a top-level list is at depth 0, a list inside it at depth 1, and so on.
const MaxDepth = 64

// Control kinds: the numbers of the sparse.v1.ControlKind enum.
const (
	ControlInit     uint8 = 1 // spout -> acker: Root, Val = XOR of the edges emitted, Spout
	ControlAck      uint8 = 2 // bolt -> acker: Root, Val = edge ^ XOR of the children's edges
	ControlFail     uint8 = 3 // bolt -> acker: Root failed
	ControlReset    uint8 = 4 // bolt -> acker -> spout: restart Root's timeout on both
	ControlComplete uint8 = 5 // acker -> spout: Root's tree is complete
	ControlFailed   uint8 = 6 // acker -> spout: Root's tree failed
)

// Control is acker traffic on the wire (sparse.v1.Control).
type Control struct {
	Kind  uint8 // a Control* constant; Decode passes any kind that fits in a uint8 through
	Task  int32 // the receiving task (dest_task)
	Spout int32 // the spout task, on init (spout_task)
	Root  uint64
	Val   uint64
}

// Field numbers of tuple.proto; every tag fits in one byte.
const (
	batchTuples   = 1
	batchControls = 2

	tupleDest    = 1
	tupleSource  = 2
	tupleStream  = 3
	tupleValues  = 4
	tupleAnchors = 5
	tupleInit    = 6

	anchorRoot = 1
	anchorEdge = 2

	controlKind  = 1
	controlDest  = 2
	controlSpout = 3
	controlRoot  = 4
	controlVal   = 5

	valueString = 1
	valueInt    = 2
	valueDouble = 3
	valueBool   = 4
	valueBytes  = 5
	valueNull   = 6
	valueList   = 7
	valueMap    = 8

	listValues = 1

	mapEntries = 1
	entryKey   = 1
	entryValue = 2
)

// Wire types, as in protowire.
const (
	wtVarint  = 0
	wtFixed64 = 1
	wtBytes   = 2
)

// Tags the encoder writes: the one-byte keys of fields numbered below 16.
const (
	tagBatchTuple   = batchTuples<<3 | wtBytes
	tagBatchControl = batchControls<<3 | wtBytes
	tagTupleDest    = tupleDest<<3 | wtVarint
	tagTupleSource  = tupleSource<<3 | wtVarint
	tagTupleStream  = tupleStream<<3 | wtBytes
	tagTupleValue   = tupleValues<<3 | wtBytes
	tagTupleAnchor  = tupleAnchors<<3 | wtBytes
	tagTupleInit    = tupleInit<<3 | wtVarint
	tagAnchorRoot   = anchorRoot<<3 | wtFixed64
	tagAnchorEdge   = anchorEdge<<3 | wtFixed64
	tagControlKind  = controlKind<<3 | wtVarint
	tagControlDest  = controlDest<<3 | wtVarint
	tagControlSpout = controlSpout<<3 | wtVarint
	tagControlRoot  = controlRoot<<3 | wtFixed64
	tagControlVal   = controlVal<<3 | wtFixed64
	tagValueString  = valueString<<3 | wtBytes
	tagValueInt     = valueInt<<3 | wtVarint
	tagValueDouble  = valueDouble<<3 | wtFixed64
	tagValueBool    = valueBool<<3 | wtVarint
	tagValueBytes   = valueBytes<<3 | wtBytes
	tagValueNull    = valueNull<<3 | wtVarint
	tagValueList    = valueList<<3 | wtBytes
	tagValueMap     = valueMap<<3 | wtBytes
	tagListValue    = listValues<<3 | wtBytes
	tagMapEntry     = mapEntries<<3 | wtBytes
	tagEntryKey     = entryKey<<3 | wtBytes
	tagEntryValue   = entryValue<<3 | wtBytes
)

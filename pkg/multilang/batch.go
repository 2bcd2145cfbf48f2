package multilang

import (
	"bytes"
	"fmt"
)

// The batch extension of the protocol. Storm's protocol costs a message, and usually a
// write and a read system call on each side, per tuple, ack and emit; a Python client
// spends most of its time there. The engine offers the extension in the handshake's
// conf (BatchOfferKey: BatchVersion); a client that knows it answers the handshake with
// {"pid": N, "batch": BatchVersion}. From then on either side may send
// {"command": "batch", "msgs": [m1, m2, ...]}, which means m1, m2, ... in that order.
// Storm's clients ignore the conf key and answer {"pid": N}: they never see a batch.
const (
	// BatchOfferKey is the handshake conf key that offers the extension.
	BatchOfferKey = "sparse.multilang.batch"
	// BatchVersion is the version of the extension the engine speaks.
	BatchVersion = 1
	// ConfBatch turns the offer off when false (default true): a client that accepts
	// then behaves as Storm's clients do.
	ConfBatch = "topology.multilang.batch"
)

// Limits of one batch the engine writes: enough to amortize the system calls and the
// client's per-frame work, small enough to keep the pipe moving.
const (
	maxBatchMsgs  = 64
	maxBatchBytes = 256 << 10
)

// acceptsBatch reports whether a handshake answer accepts the extension.
func acceptsBatch(m map[string]any) bool {
	v, ok := intValue(m["batch"])
	return ok && v == BatchVersion
}

// batchMessages returns the messages of a batch message from a subprocess, checking
// that each is a map and none is a batch itself.
func batchMessages(m map[string]any) ([]any, error) {
	msgs, ok := m["msgs"].([]any)
	if !ok {
		return nil, badValue(m, "a batch command needs a \"msgs\" list of messages")
	}
	for i, v := range msgs {
		sub, ok := v.(map[string]any)
		if !ok {
			return nil, badValue(m, fmt.Sprintf("message %d of a batch is a %s; every message in \"msgs\" must be a map", i, typeName(v)))
		}
		if sub["command"] == "batch" {
			return nil, badValue(m, fmt.Sprintf("message %d of a batch is a batch; batches do not nest", i))
		}
	}
	return msgs, nil
}

// appendBatch frames msgs, each framed for the serializer by Encode, as one batch
// message.
func appendBatch(b []byte, s Serializer, msgs [][]byte) []byte {
	if s == Msgpack {
		b = append(b, 0x82)
		b = appendStr(b, "command")
		b = appendStr(b, "batch")
		b = appendStr(b, "msgs")
		b = appendLen(b, len(msgs), 0x90, 0xdc)
		for _, m := range msgs {
			b = append(b, m...)
		}
		return b
	}
	b = append(b, `{"command":"batch","msgs":[`...)
	for i, m := range msgs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, bytes.TrimSuffix(m, jsonEnd)...)
	}
	return append(b, "]}\nend\n"...)
}

var jsonEnd = []byte("\nend\n")

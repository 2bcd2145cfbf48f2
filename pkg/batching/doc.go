// Package batching is a bolt that processes its inputs in batches, in the spirit of
// streamparse's BatchingBolt: inputs are grouped by a key, and every interval each key's
// batch is handed to ProcessBatch at once. This suits sinks and lookups that are far
// cheaper per call than per tuple (bulk inserts, multi-gets, batched HTTP requests).
//
// Reliability follows streamparse: a batch's inputs are acked once ProcessBatch returns
// nil and all failed, so that their spouts replay them, when it returns an error or
// panics. Emits from ProcessBatch are anchored to every input of the batch unless the
// bolt is Unanchored.
//
// The timing is driven by tick tuples, so the component needs
// topology.tick.tuple.freq.secs; Declare sets it to the interval. Inputs wait up to one
// interval (plus processing) before they are acked, so the interval must be well below
// topology.message.timeout.secs.
//
// Example: write events to a store, one bulk call per user every 5 seconds.
//
//	type store struct{ db *DB }
//
//	func (s *store) Prepare(*topology.Context, batching.Emitter) error { return nil }
//	func (s *store) Key(in *tuple.Tuple) string                        { return in.StringByField("user") }
//	func (s *store) ProcessBatch(user string, batch []*tuple.Tuple) error {
//		rows := make([]Row, len(batch))
//		for i, in := range batch {
//			rows[i] = Row{User: user, Event: in.StringByField("event")}
//		}
//		return s.db.InsertAll(rows) // an error replays the whole batch
//	}
//	func (s *store) Cleanup() {}
//
//	b := topology.NewBuilder("events")
//	b.Spout("events", newEventSpout, 1).Output("user", "event")
//	batching.Declare(b, "store", func() batching.Processor { return &store{db: openDB()} }, 2,
//		batching.Interval(5*time.Second), batching.MaxBatchSize(500)).
//		Fields("events", "user")
package batching

// Package multilang runs spouts and bolts written in any language as subprocesses that
// speak Apache Storm's multi-lang protocol: ShellSpout and ShellBolt, one subprocess per
// task. Existing Storm clients (storm.py, pystorm, streamparse components, storm.js) work
// unchanged; sparse bundles a Python client of its own under python/.
//
// # Protocol
//
// The subprocess is started with its command and arguments in its resources folder
// (ShellCommand.Dir). The engine writes the handshake {"conf", "pidDir", "context"};
// the subprocess creates an empty file named by its pid in pidDir and answers {"pid": N}.
// The context has Storm's shape: "task->component", "taskid", "componentid", "streams",
// "stream->outputfields", "stream->target->grouping", "source->stream->grouping" and
// "source->stream->fields".
//
// A spout subprocess is sent "next", "ack" and "fail" (with the message "id" it gave
// the tuple), "activate" and "deactivate", and answers each with any number of emit, log,
// error and metrics commands followed by "sync". A bolt subprocess is sent tuples
// {"id", "comp", "stream", "task", "tuple"} and sends emit (with "anchors", "stream",
// "task" for a direct emit, "tuple" and "need_task_ids"), ack, fail, log (with a "level"
// from 0, trace, to 4, error), error and metrics commands whenever it likes. An emit with
// need_task_ids (true unless it says false, as in Storm) that is not direct is answered
// with the list of the receiving tasks. Every second or so the engine sends a bolt a
// heartbeat tuple (stream "__heartbeat", task -1), which it must answer with "sync".
//
// The engine gives each input of a bolt a string id and keeps the input until the
// subprocess acks or fails that id, so acks, fails and anchors refer to real tuples and
// keep Storm's at-least-once guarantee.
//
// # Batches
//
// The engine offers an extension in the handshake's conf (BatchOfferKey, unless
// ConfBatch is false); a client that answers {"pid": N, "batch": BatchVersion} may then
// receive and send {"command": "batch", "msgs": [...]}, which stands for its messages in
// order. The engine's writer batches what is queued when it wakes. Storm's clients ignore
// the offer and never see a batch.
//
// # Serializers
//
// ConfSerializer chooses the encoding. JSON frames every message with a line "end" after
// it, as Storm does. Msgpack writes messages back to back with no delimiter, as pystorm's
// msgpack serializer does; it carries []byte values as binary (JSON carries them as base64
// strings). The decoders reject oversized messages (ConfMaxMessageBytes), messages missing
// their "end", and output that is not a message at all (a stray print to stdout) with a
// *ProtocolError that quotes the first bytes; the subprocess is then killed and restarted.
//
// # Threads and the executor goroutine
//
// The collector is not safe for concurrent use, so only the task's executor goroutine
// ever touches it. Each subprocess has a reader goroutine that decodes its stdout into a
// bounded channel, a writer goroutine that owns its stdin (heartbeats first), and for
// bolts a heartbeat goroutine; none of them calls the collector. The executor goroutine
// applies what the subprocess sent — emits, acks, fails, logs, errors — at these points:
//
//   - ShellBolt.Execute first applies everything already received, then writes the input
//     and returns: as with Storm's ShellBolt, inputs are pipelined, and the subprocess
//     answers them when it gets to them. Tick tuples are forwarded to the subprocess, as
//     Storm does.
//   - ShellBolt is topology.Wakeable: the reader goroutine wakes the task whenever it
//     receives a message or the subprocess dies, and the executor then calls Woken, which
//     applies what arrived. So acks, emits and task-id answers (need_task_ids) flow at
//     once even when no input comes, and a restarted subprocess gets the inputs held
//     for it at once.
//   - While the writer cannot take more input (the subprocess is busy), the executor
//     goroutine applies the subprocess's messages instead of just waiting, so neither side
//     can wait for the other forever.
//   - ShellSpout.NextTuple writes "next" and applies messages until the "sync" answer;
//     Ack and Fail are written at once and their "sync" answers collected by the next call.
//
// Every wait of the executor goroutine is bounded: by the subprocess answering, by the
// subprocess timeout, or by the subprocess dying.
//
// # Faults
//
// A subprocess that exits, writes something that is not a message, breaks the protocol,
// sends nothing, not even a heartbeat answer (bolts, as in Storm any message counts), or
// does not answer a "next" (spouts) within ConfSubprocessTimeoutSecs, or stops reading
// its stdin for as long, is killed (with its process group) and reaped. The task fails
// every input the subprocess held, so that the spouts replay them, reports a
// *SubprocessError naming the component, the task, the exit status and the last lines of
// stderr, and restarts the subprocess with exponential backoff (100ms doubling to 10s,
// with jitter; reset after 30s of health), doing the handshake again. A bolt input that arrives while
// the subprocess restarts is held (up to 1024 of them) while Execute waits, at most the
// subprocess timeout, for the restart; the restarted subprocess gets the held inputs
// first. Waiting slows the upstream down rather than failing tuples that their spouts
// would replay at once. A spout's acks and fails for tuples of a dead subprocess are
// dropped. Cleanup and Close close the subprocess's stdin, kill it if it has not exited a
// second later, and wait for it and for every goroutine of the task.
package multilang

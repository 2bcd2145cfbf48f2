"""The batch extension: offered by sparse's engine in the handshake's conf, accepted in
the pid answer; then messages travel in {"command": "batch", "msgs": [...]} frames."""

import contextlib
import io
import os
import threading
import unittest

from sparse_multilang import Bolt, Spout
from sparse_multilang.component import BATCH_OFFER_KEY, BATCH_VERSION, MAX_BATCH

from .support import HEARTBEAT, PidDir, frame, handshake, run, tup, unframe

OFFER = {"topology.name": "test", BATCH_OFFER_KEY: BATCH_VERSION}


def batch(*msgs):
    return {"command": "batch", "msgs": list(msgs)}


class Split(Bolt):
    def process(self, t):
        for word in t["sentence"].split():
            self.emit([word])


class Plain(Split):
    batching = False


class Words(Spout):
    def initialize(self, conf, context):
        self.n = 0

    def next_tuple(self):
        for _ in range(3):
            self.n += 1
            self.emit(["w%d" % self.n], tup_id=self.n)


class NegotiationTest(unittest.TestCase):
    def test_accepts_an_offer(self):
        for serializer in ("json", "msgpack"):
            comp, written = run(Split, [], serializer=serializer, conf=OFFER)
            self.assertEqual(written, [{"pid": os.getpid(), "batch": BATCH_VERSION}], serializer)
            self.assertTrue(comp._batch)

    def test_no_offer_no_batch(self):
        # Storm's engine offers nothing: the answer and every message are plain.
        comp, written = run(Split, [tup("1", ["a b", 1]), tup("2", ["c", 2])])
        self.assertFalse(comp._batch)
        self.assertEqual(written[0], {"pid": os.getpid()})
        self.assertNotIn("batch", [m.get("command") for m in written])
        self.assertEqual(len(written), 1 + 3 + 2)

    def test_other_versions_are_declined(self):
        _, written = run(Split, [], conf={BATCH_OFFER_KEY: BATCH_VERSION + 1})
        self.assertEqual(written, [{"pid": os.getpid()}])

    def test_a_component_may_decline(self):
        comp, written = run(Plain, [tup("1", ["a b", 1])], conf=OFFER)
        self.assertFalse(comp._batch)
        self.assertEqual(written[0], {"pid": os.getpid()})
        self.assertEqual(len(written), 4)


class BatchedBoltTest(unittest.TestCase):
    def test_batch_in_batch_out(self):
        for serializer in ("json", "msgpack"):
            _, written = run(Split, [batch(tup("1", ["a b", 1]), HEARTBEAT, tup("2", ["c", 2]))], serializer=serializer, conf=OFFER)
            # One frame answers the whole batch, in order.
            self.assertEqual(written[1:], [batch(
                {"command": "emit", "tuple": ["a"], "anchors": ["1"], "need_task_ids": False},
                {"command": "emit", "tuple": ["b"], "anchors": ["1"], "need_task_ids": False},
                {"command": "ack", "id": "1"},
                {"command": "sync"},
                {"command": "emit", "tuple": ["c"], "anchors": ["2"], "need_task_ids": False},
                {"command": "ack", "id": "2"},
            )], serializer)

    def test_a_single_message_is_not_wrapped(self):
        _, written = run(Bolt, [HEARTBEAT], conf=OFFER)
        self.assertEqual(written[1:], [{"command": "sync"}])

    def test_plain_messages_still_work(self):
        _, written = run(Split, [tup("1", ["a", 1]), tup("2", ["b", 2])], conf=OFFER)
        self.assertEqual([m.get("command") for m in written[1:]], ["batch", "batch"])

    def test_task_ids_inside_a_batch(self):
        got = []

        class Echo(Bolt):
            def process(self, t):
                got.append(self.emit(list(t.values), need_task_ids=True))

        # The engine's answer to the emit comes in a batch, behind the next input.
        _, written = run(Echo, [batch(tup("1", ["x", 1])), batch([4, 5], tup("2", ["y", 2])), [6]], conf=OFFER)
        self.assertEqual(got, [[4, 5], [6]])
        commands = [m["command"] for w in written[1:] for m in (w["msgs"] if w.get("command") == "batch" else [w])]
        self.assertEqual(commands, ["emit", "ack", "emit", "ack"])

    def test_large_output_is_split(self):
        class Many(Bolt):
            def process(self, t):
                for i in range(MAX_BATCH + 10):
                    self.emit([i])

        _, written = run(Many, [tup("1", ["x", 1])], conf=OFFER)
        sizes = [len(w["msgs"]) if w.get("command") == "batch" else 1 for w in written[1:]]
        self.assertEqual(sum(sizes), MAX_BATCH + 11)
        self.assertLessEqual(max(sizes), MAX_BATCH)

    def test_other_threads_write_at_once(self):
        class Background(Bolt):
            def process(self, t):
                th = threading.Thread(target=self.log, args=("from a thread",))
                th.start()
                th.join()
                self.written_so_far = self._output.getvalue()

        comp, _ = run(Background, [tup("1", ["x", 1])], conf=OFFER)
        self.assertIn(b"from a thread", comp.written_so_far)

    def test_bad_batches_are_protocol_errors(self):
        for bad in ({"command": "batch"}, batch("nope"), batch(batch())):
            with PidDir() as pid_dir:
                data = frame([handshake(pid_dir, conf=OFFER), bad])
                err = io.StringIO()
                bolt = Split(io.BytesIO(data), io.BytesIO())
                with contextlib.redirect_stderr(err), self.assertRaises(SystemExit):
                    bolt.run()
                self.assertIn("batch", err.getvalue(), bad)


class BatchedSpoutTest(unittest.TestCase):
    def test_emits_and_sync_travel_together(self):
        _, written = run(Words, [batch({"command": "next"}, {"command": "ack", "id": 1}), {"command": "next"}], conf=OFFER)
        self.assertEqual(len(written), 3)
        first = written[1]["msgs"]
        self.assertEqual([m["command"] for m in first], ["emit", "emit", "emit", "sync", "sync"])
        self.assertEqual([m["command"] for m in written[2]["msgs"]], ["emit", "emit", "emit", "sync"])


if __name__ == "__main__":
    unittest.main()

import contextlib
import io
import logging
import os
import unittest

from sparse_multilang import BatchingBolt, Bolt, Tuple

from .support import HEARTBEAT, PidDir, frame, handshake, run, tick, tup, unframe


class Split(Bolt):
    def process(self, t):
        for word in t["sentence"].split():
            self.emit([word])


class HandshakeTest(unittest.TestCase):
    def test_pid_file_and_answer(self):
        with PidDir() as pid_dir:
            out = io.BytesIO()
            bolt = Split(io.BytesIO(frame([handshake(pid_dir, conf={"topology.name": "wc", "topology.debug": True})])), out)
            bolt.run()
            self.assertTrue(os.path.exists(os.path.join(pid_dir, str(os.getpid()))), "no pid file")
            self.assertEqual(unframe(out.getvalue()), [{"pid": os.getpid()}])
            self.assertEqual((bolt.task_id, bolt.component_id, bolt.topology_name), (2, "bolt", "wc"))
            self.assertEqual(bolt.logger.level, logging.DEBUG)

    def test_serializer_is_detected(self):
        for serializer in ("json", "msgpack"):
            _, written = run(Split, [tup("1", ["a b", 1])], serializer=serializer, pass_serializer=False)
            self.assertEqual(written[0], {"pid": os.getpid()}, serializer)
            self.assertEqual(len(written), 4, serializer)


class BoltTest(unittest.TestCase):
    def test_emits_are_anchored_then_acked(self):
        for serializer in ("json", "msgpack"):
            _, written = run(Split, [tup("7", ["the cow", 1])], serializer=serializer)
            self.assertEqual(written[1:], [
                {"command": "emit", "tuple": ["the"], "anchors": ["7"], "need_task_ids": False},
                {"command": "emit", "tuple": ["cow"], "anchors": ["7"], "need_task_ids": False},
                {"command": "ack", "id": "7"},
            ], serializer)

    def test_heartbeat_is_answered(self):
        _, written = run(Split, [HEARTBEAT])
        self.assertEqual(written[1:], [{"command": "sync"}])

    def test_tuple_fields(self):
        seen = []

        class Probe(Bolt):
            def process(self, t):
                seen.append((t["sentence"], t["n"], t[0], len(t), t.is_tick))

        run(Probe, [tup("1", ["hi", 3])])
        self.assertEqual(seen, [("hi", 3, "hi", 2, False)])

    def test_auto_flags_off(self):
        class Manual(Bolt):
            auto_ack = False
            auto_anchor = False

            def process(self, t):
                self.emit([t.values[0]])
                self.emit([t.values[0]], anchors=[t], stream="other", direct_task=5)
                self.fail(t)

        _, written = run(Manual, [tup("3", ["x", 0])])
        self.assertEqual(written[1:], [
            {"command": "emit", "tuple": ["x"], "anchors": [], "need_task_ids": False},
            {"command": "emit", "tuple": ["x"], "anchors": ["3"], "stream": "other", "task": 5, "need_task_ids": False},
            {"command": "fail", "id": "3"},
        ])

    def test_exception_reports_and_fails(self):
        class Broken(Bolt):
            def process(self, t):
                raise ValueError("boom " + t.values[0])

        _, written = run(Broken, [tup("1", ["a", 0]), tup("2", ["b", 0])])
        commands = [m["command"] for m in written[1:]]
        self.assertEqual(commands, ["error", "fail", "error", "fail"])
        self.assertIn("ValueError: boom a", written[1]["msg"])
        self.assertIn("Traceback", written[1]["msg"])
        self.assertEqual(written[2], {"command": "fail", "id": "1"})

    def test_exit_on_exception(self):
        class Broken(Bolt):
            exit_on_exception = True

            def process(self, t):
                raise ValueError("boom")

        stderr = io.StringIO()
        with self.assertRaises(SystemExit) as cm, contextlib.redirect_stderr(stderr):
            run(Broken, [tup("1", ["a", 0]), tup("2", ["b", 0])])
        self.assertEqual(cm.exception.code, 1)
        self.assertIn("ValueError: boom", stderr.getvalue())

    def test_need_task_ids(self):
        got = []

        class Asker(Bolt):
            def process(self, t):
                got.append(self.emit([t.values[0]], need_task_ids=True))
                got.append(self.emit([t.values[0]], direct_task=9, need_task_ids=True))

        # The engine's answer comes after a heartbeat that arrived in between; the
        # heartbeat is answered after the tuple is done.
        _, written = run(Asker, [tup("1", ["a", 0]), HEARTBEAT, [4, 5]])
        self.assertEqual(got, [[4, 5], [9]])
        self.assertEqual([m.get("command") for m in written[1:]], ["emit", "emit", "ack", "sync"])
        self.assertTrue(written[1]["need_task_ids"])

    def test_ticks_reach_process_tick_and_are_not_acked(self):
        ticks = []

        class Ticker(Bolt):
            def process(self, t):
                pass

            def process_tick(self, t):
                ticks.append(t.values)

        _, written = run(Ticker, [tick(5)])
        self.assertEqual(ticks, [[5]])
        self.assertEqual(written[1:], [])

    def test_logging_goes_to_the_engine(self):
        class Chatty(Bolt):
            def process(self, t):
                self.logger.debug("hidden")
                self.logger.warning("careful %s", t.values[0])
                self.log("plain")
                self.log("low", level="trace")
                self.metric("latency", {"ms": 3})
                self.report_error("custom problem")

        _, written = run(Chatty, [tup("1", ["x", 0])])
        self.assertEqual(written[1:], [
            {"command": "log", "msg": "careful x", "level": 3},
            {"command": "log", "msg": "plain", "level": 2},
            {"command": "log", "msg": "low", "level": 0},
            {"command": "metrics", "name": "latency", "params": {"ms": 3}},
            {"command": "error", "msg": "custom problem"},
            {"command": "ack", "id": "1"},
        ])


class Counter(BatchingBolt):
    def group_key(self, t):
        return t.values[0]

    def process_batch(self, key, tups):
        if key == "bad":
            raise RuntimeError("bad batch")
        self.emit([key, len(tups)])


class BatchingBoltTest(unittest.TestCase):
    def test_batches_are_processed_on_ticks_and_acked_after(self):
        _, written = run(Counter, [tup("1", ["a", 0]), tup("2", ["b", 0]), tup("3", ["a", 0]), HEARTBEAT, tick()])
        self.assertEqual(written[1:], [
            {"command": "sync"},
            {"command": "emit", "tuple": ["a", 2], "anchors": ["1", "3"], "need_task_ids": False},
            {"command": "ack", "id": "1"},
            {"command": "ack", "id": "3"},
            {"command": "emit", "tuple": ["b", 1], "anchors": ["2"], "need_task_ids": False},
            {"command": "ack", "id": "2"},
        ])

    def test_a_failing_batch_is_failed(self):
        _, written = run(Counter, [tup("1", ["bad", 0]), tup("2", ["ok", 0]), tup("3", ["bad", 0]), tick()])
        commands = [(m["command"], m.get("id")) for m in written[1:]]
        self.assertEqual(commands, [("error", None), ("fail", "1"), ("fail", "3"), ("emit", None), ("ack", "2")])
        self.assertIn("RuntimeError: bad batch", written[1]["msg"])

    def test_ticks_between_batches(self):
        class Slow(Counter):
            ticks_between_batches = 2

        _, written = run(Slow, [tup("1", ["a", 0]), tick(), tup("2", ["a", 0])])
        self.assertEqual(written[1:], [])
        _, written = run(Slow, [tup("1", ["a", 0]), tick(), tick()])
        self.assertEqual([m["command"] for m in written[1:]], ["emit", "ack"])

    def test_secs_between_batches_counts_tick_seconds(self):
        class Timed(Counter):
            secs_between_batches = 5

        _, written = run(Timed, [tup("1", ["a", 0]), tick(2), tick(2)])
        self.assertEqual(written[1:], [])
        _, written = run(Timed, [tup("1", ["a", 0]), tick(2), tick(3)])
        self.assertEqual([m["command"] for m in written[1:]], ["emit", "ack"])


class TupleTest(unittest.TestCase):
    def test_kinds(self):
        self.assertTrue(Tuple("h", "__system", "__heartbeat", -1, []).is_heartbeat)
        self.assertTrue(Tuple("t", "__system", "__tick", -1, [1]).is_tick)
        self.assertFalse(Tuple("1", "spout", "default", 1, []).is_tick)
        with self.assertRaises(KeyError):
            Tuple("1", "spout", "default", 1, ["a"], ["x"])["y"]


if __name__ == "__main__":
    unittest.main()

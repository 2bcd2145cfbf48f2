import unittest

from sparse_multilang import Spout

from .support import run

NEXT = {"command": "next"}


class Numbers(Spout):
    def initialize(self, conf, context):
        self.n = 0
        self.events = []

    def next_tuple(self):
        if self.n < 2:
            self.emit([self.n], tup_id="id-%d" % self.n)
            self.n += 1

    def ack(self, tup_id):
        self.events.append(("ack", tup_id))

    def fail(self, tup_id):
        self.events.append(("fail", tup_id))

    def activate(self):
        self.events.append(("activate",))

    def deactivate(self):
        self.events.append(("deactivate",))


class SpoutTest(unittest.TestCase):
    def test_every_command_is_answered_with_sync(self):
        for serializer in ("json", "msgpack"):
            spout, written = run(Numbers, [
                {"command": "activate"}, NEXT, NEXT, NEXT,
                {"command": "ack", "id": "id-0"}, {"command": "fail", "id": "id-1"}, {"command": "deactivate"},
            ], serializer=serializer)
            self.assertEqual(written[1:], [
                {"command": "sync"},
                {"command": "emit", "tuple": [0], "id": "id-0", "need_task_ids": False}, {"command": "sync"},
                {"command": "emit", "tuple": [1], "id": "id-1", "need_task_ids": False}, {"command": "sync"},
                {"command": "sync"},
                {"command": "sync"}, {"command": "sync"}, {"command": "sync"},
            ], serializer)
            self.assertEqual(spout.events, [("activate",), ("ack", "id-0"), ("fail", "id-1"), ("deactivate",)])

    def test_unreliable_emit_and_task_ids(self):
        got = []

        class Asker(Spout):
            def next_tuple(self):
                got.append(self.emit(["x"], stream="s", need_task_ids=True))

        _, written = run(Asker, [NEXT, [3]])
        self.assertEqual(got, [[3]])
        self.assertEqual(written[1:], [{"command": "emit", "tuple": ["x"], "stream": "s", "need_task_ids": True}, {"command": "sync"}])

    def test_exception_is_reported_and_still_synced(self):
        class Broken(Spout):
            def next_tuple(self):
                raise KeyError("nothing")

        _, written = run(Broken, [NEXT, NEXT])
        self.assertEqual([m["command"] for m in written[1:]], ["error", "sync", "error", "sync"])
        self.assertIn("KeyError", written[1]["msg"])

    def test_emit_takes_a_list(self):
        class Wrong(Spout):
            def next_tuple(self):
                self.emit("not a list")

        _, written = run(Wrong, [NEXT])
        self.assertEqual(written[1]["command"], "error")
        self.assertIn("emit takes a list or tuple", written[1]["msg"])


if __name__ == "__main__":
    unittest.main()

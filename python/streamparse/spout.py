"""streamparse's spouts, on the bundled multi-lang client."""

import sparse_multilang

from .bolt import _SpecMixin

__all__ = ["Spout", "ReliableSpout"]


class Spout(_SpecMixin, sparse_multilang.Spout):
    """A streamparse spout: override ``next_tuple``; ``emit(tup, tup_id=None,
    stream=None, direct_task=None, need_task_ids=False)``."""


class ReliableSpout(Spout):
    """A spout that remembers what it emitted with a ``tup_id`` and emits it again on
    ``fail``, up to ``max_fails`` times (None: for ever)."""

    max_fails = 3

    def __init__(self, *args, **kwargs):
        super(ReliableSpout, self).__init__(*args, **kwargs)
        self.unacked = {}
        self.failures = {}

    def emit(self, tup, tup_id=None, stream=None, direct_task=None, need_task_ids=False):
        if tup_id is not None:
            self.unacked[tup_id] = (tup, stream, direct_task)
        return super(ReliableSpout, self).emit(tup, tup_id=tup_id, stream=stream, direct_task=direct_task,
                                               need_task_ids=need_task_ids)

    def ack(self, tup_id):
        self.unacked.pop(tup_id, None)
        self.failures.pop(tup_id, None)

    def fail(self, tup_id):
        if tup_id not in self.unacked:
            return
        n = self.failures.get(tup_id, 0) + 1
        if self.max_fails is not None and n > self.max_fails:
            self.log("giving up on tuple %r after %d failures" % (tup_id, n - 1), level="warn")
            self.ack(tup_id)
            return
        self.failures[tup_id] = n
        tup, stream, direct_task = self.unacked[tup_id]
        self.emit(tup, tup_id=tup_id, stream=stream, direct_task=direct_task)

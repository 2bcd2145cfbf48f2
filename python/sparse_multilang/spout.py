"""Spouts: sources of tuples."""

from .component import Component

__all__ = ["Spout"]


class Spout(Component):
    """A spout. Override ``next_tuple`` (and ``ack``/``fail`` for a reliable spout), then
    call ``run()``.

    The engine calls ``next_tuple`` when it wants tuples; emit zero or more and return
    promptly (the engine backs off on its own when nothing is emitted). A tuple emitted
    with a ``tup_id`` is reliable: the engine later calls ``ack(tup_id)`` or
    ``fail(tup_id)``.
    """

    def next_tuple(self):
        """Emit the next tuples, if any."""

    def ack(self, tup_id):
        """The tuple tree of ``tup_id`` was fully processed."""

    def fail(self, tup_id):
        """The tuple tree of ``tup_id`` failed or timed out; emit it again to replay it."""

    def activate(self):
        """The topology was activated."""

    def deactivate(self):
        """The topology was deactivated: next_tuple is not called until it is activated."""

    def emit(self, values, tup_id=None, stream=None, direct_task=None, need_task_ids=False):
        """Emit a tuple; with ``tup_id`` it is reliable. Returns the receiving task ids
        when ``need_task_ids`` is set."""
        return self._emit(values, stream=stream, tup_id=tup_id, direct_task=direct_task, need_task_ids=need_task_ids)

    def _run_once(self):
        cmd = self.read_command()
        name = cmd.get("command")
        try:
            if name == "next":
                self.next_tuple()
            elif name == "ack":
                self.ack(cmd.get("id"))
            elif name == "fail":
                self.fail(cmd.get("id"))
            elif name == "activate":
                self.activate()
            elif name == "deactivate":
                self.deactivate()
            else:
                self.log("ignoring unknown command %r" % (name,), level="warn")
        except Exception as exc:
            self.report_error(exc)
            if self.exit_on_exception:
                self.sync()
                raise
        self.sync()

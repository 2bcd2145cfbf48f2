"""Bolts: Bolt processes one tuple at a time, BatchingBolt groups tuples between ticks."""

from .component import Component, Tuple

__all__ = ["Bolt", "BatchingBolt"]


class Bolt(Component):
    """A bolt. Override ``process`` (and optionally ``process_tick`` and ``initialize``),
    then call ``run()``.

    :ivar auto_ack: ack each input after ``process`` returns (default True).
    :ivar auto_anchor: anchor emits to the input being processed unless ``anchors`` is
        given (default True).
    :ivar auto_fail: fail the input when ``process`` raises (default True). The error is
        reported to the engine either way.
    """

    auto_ack = True
    auto_anchor = True
    auto_fail = True

    def __init__(self, *args, **kwargs):
        super(Bolt, self).__init__(*args, **kwargs)
        self._current_tups = []
        self._fields = {}

    def _setup(self, conf, context):
        super(Bolt, self)._setup(conf, context)
        for source, streams in (self.context.get("source->stream->fields") or {}).items():
            for stream, fields in (streams or {}).items():
                self._fields[(source, stream)] = list(fields)

    def process(self, tup):
        """Process one input tuple."""
        raise NotImplementedError("%s must define process(tup)" % type(self).__name__)

    def process_tick(self, tup):
        """Called for each tick tuple (every topology.tick.tuple.freq.secs seconds).
        Ticks need not be acked."""

    def emit(self, values, anchors=None, stream=None, direct_task=None, need_task_ids=False):
        """Emit a tuple.

        :param values: a list (or tuple) of values.
        :param anchors: tuples (or their ids) to anchor to; by default the input being
            processed when ``auto_anchor`` is set.
        :param stream: the output stream (default: "default").
        :param direct_task: the task of a direct emit.
        :param need_task_ids: return the ids of the receiving tasks (one round trip to the
            engine per emit; off by default, as in streamparse).
        """
        if anchors is None:
            anchors = self._current_tups if self.auto_anchor else []
        ids = [a.id if isinstance(a, Tuple) else a for a in anchors]
        return self._emit(values, stream=stream, anchors=ids, direct_task=direct_task, need_task_ids=need_task_ids)

    def ack(self, tup):
        """Tell the engine the tuple (or tuple id) is processed."""
        self.send_message({"command": "ack", "id": tup.id if isinstance(tup, Tuple) else tup})

    def fail(self, tup):
        """Tell the engine the tuple (or tuple id) failed, so that its spout replays it."""
        self.send_message({"command": "fail", "id": tup.id if isinstance(tup, Tuple) else tup})

    def read_tuple(self):
        """Read the next input tuple."""
        cmd = self.read_command()
        comp, stream = cmd.get("comp"), cmd.get("stream")
        return Tuple(cmd.get("id"), comp, stream, cmd.get("task"), cmd.get("tuple") or [], self._fields.get((comp, stream)))

    def _run_once(self):
        tup = self.read_tuple()
        if tup.is_heartbeat:
            self.sync()
            return
        self._current_tups = [tup]
        try:
            if tup.is_tick:
                self.process_tick(tup)
            else:
                self.process(tup)
                if self.auto_ack:
                    self.ack(tup)
        except Exception as exc:
            self.report_error(exc)
            if self.auto_fail and not tup.is_tick:
                self.fail(tup)
            if self.exit_on_exception:
                raise
        finally:
            self._current_tups = []


class BatchingBolt(Bolt):
    """A bolt that groups its inputs and processes each group on a tick.

    Override ``process_batch(key, tups)`` and optionally ``group_key(tup)``. Inputs are
    collected by group key; every ``ticks_between_batches`` ticks (or, when
    ``secs_between_batches`` is set, once that many seconds of ticks have passed) each
    group is given to ``process_batch``. Emits are anchored to the whole group; after
    ``process_batch`` returns its tuples are acked (``auto_ack``), and when it raises they
    are failed (``auto_fail``) so that their spouts replay them.

    The component needs tick tuples: set topology.tick.tuple.freq.secs in its config.
    """

    ticks_between_batches = 1
    secs_between_batches = None

    def __init__(self, *args, **kwargs):
        super(BatchingBolt, self).__init__(*args, **kwargs)
        self._batches = {}
        self._ticks = 0
        self._elapsed = 0.0

    def group_key(self, tup):
        """The key grouping tuples into batches (default: one batch)."""
        return None

    def process_batch(self, key, tups):
        """Process the tuples of one group."""
        raise NotImplementedError("%s must define process_batch(key, tups)" % type(self).__name__)

    def process(self, tup):
        self._batches.setdefault(self.group_key(tup), []).append(tup)

    def process_tick(self, tup):
        self._ticks += 1
        secs = tup.values[0] if tup.values and isinstance(tup.values[0], (int, float)) else None
        if secs is None:
            secs = (self.conf or {}).get("topology.tick.tuple.freq.secs") or 1
        self._elapsed += secs
        if self.secs_between_batches is not None:
            due = self._elapsed >= self.secs_between_batches
        else:
            due = self._ticks >= self.ticks_between_batches
        if due:
            self._ticks, self._elapsed = 0, 0.0
            self.process_batches()

    def process_batches(self):
        """Process every pending batch now."""
        batches, self._batches = self._batches, {}
        for key, tups in batches.items():
            self._current_tups = tups
            try:
                self.process_batch(key, tups)
            except Exception as exc:
                self.report_error(exc)
                if self.auto_fail:
                    for t in tups:
                        self.fail(t)
                if self.exit_on_exception:
                    raise
                continue
            finally:
                self._current_tups = []
            if self.auto_ack:
                for t in tups:
                    self.ack(t)

    def _run_once(self):
        tup = self.read_tuple()
        if tup.is_heartbeat:
            self.sync()
            return
        if tup.is_tick:
            self.process_tick(tup)  # process_batches handles the errors of batches
            return
        try:
            self.process(tup)
        except Exception as exc:  # group_key raised
            self.report_error(exc)
            if self.auto_fail:
                self.fail(tup)
            if self.exit_on_exception:
                raise

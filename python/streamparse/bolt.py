"""streamparse's bolts: Bolt, BatchingBolt (batches on ticks) and TicklessBatchingBolt
(batches on a timer thread), on the bundled multi-lang client."""

import threading
import time

import sparse_multilang

from .dsl import ComponentSpec

__all__ = ["Bolt", "BatchingBolt", "TicklessBatchingBolt"]


class _SpecMixin(object):
    outputs = None

    @classmethod
    def spec(cls, name=None, inputs=None, par=None, config=None):
        """This component in a topology: its name (default: the attribute's), inputs (a
        list of specs, or a dict of spec -> Grouping), parallelism and config."""
        kind = "spout" if issubclass(cls, sparse_multilang.Spout) else "bolt"
        return ComponentSpec(kind, name=name, inputs=inputs, par=par, config=config,
                             outputs=cls.outputs, component_cls=cls)

    def report_metric(self, name, value):
        """Send a metric value to the engine (it logs it)."""
        self.metric(name, value)

    def raise_exception(self, exception, tup=None):
        """Report an error to the engine, then raise it."""
        self.report_error(exception)
        raise exception


class Bolt(_SpecMixin, sparse_multilang.Bolt):
    """A streamparse bolt: override ``process(tup)``.

    ``emit(tup, stream=None, anchors=None, direct_task=None, need_task_ids=False)`` takes
    its arguments in streamparse's order.
    """

    def emit(self, tup, stream=None, anchors=None, direct_task=None, need_task_ids=False):
        return sparse_multilang.Bolt.emit(self, tup, anchors=anchors, stream=stream,
                                          direct_task=direct_task, need_task_ids=need_task_ids)


class BatchingBolt(Bolt, sparse_multilang.BatchingBolt):
    """Groups inputs by ``group_key(tup)`` and calls ``process_batch(key, tups)`` every
    ``ticks_between_batches`` tick tuples (or ``secs_between_batches`` seconds of ticks).
    Give the component ``topology.tick.tuple.freq.secs`` in its config; ``spec`` sets it
    to 1 when it is missing."""

    @classmethod
    def spec(cls, name=None, inputs=None, par=None, config=None):
        config = dict(config or {})
        config.setdefault("topology.tick.tuple.freq.secs", 1)
        return super(BatchingBolt, cls).spec(name=name, inputs=inputs, par=par, config=config)


class TicklessBatchingBolt(Bolt, sparse_multilang.BatchingBolt):
    """Groups inputs by ``group_key(tup)`` and calls ``process_batch(key, tups)`` every
    ``secs_between_batches`` seconds (default 2) from a timer thread: it needs no tick
    tuples. Inputs and batches are processed under one lock, so user code never runs on
    both threads at once. Emits from ``process_batch`` are anchored to the batch; emit
    without ``need_task_ids`` there (the answer would race the input reader)."""

    secs_between_batches = 2

    def __init__(self, *args, **kwargs):
        super(TicklessBatchingBolt, self).__init__(*args, **kwargs)
        self._batches = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = None

    def process_tick(self, tup):
        """Ticks do not drive batches here; override to use them otherwise."""

    def _run_once(self):
        if self._thread is None:
            self._thread = threading.Thread(target=self._batch_loop, name="batches", daemon=True)
            self._thread.start()
        tup = self.read_tuple()
        with self._lock:
            if tup.is_heartbeat:
                self.sync()
                return
            if tup.is_tick:
                try:
                    self.process_tick(tup)
                except Exception as exc:
                    self.report_error(exc)
                return
            try:
                self.process(tup)
            except Exception as exc:
                self.report_error(exc)
                if self.auto_fail:
                    self.fail(tup)
                if self.exit_on_exception:
                    raise

    def _batch_loop(self):
        next_at = time.monotonic() + self.secs_between_batches
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += self.secs_between_batches
            with self._lock:
                try:
                    self.process_batches()
                except Exception:  # exit_on_exception: end the process, the engine restarts it
                    import os
                    os._exit(1)

    def run(self):
        try:
            super(TicklessBatchingBolt, self).run()
        finally:
            self._stop.set()

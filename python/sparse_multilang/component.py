"""What spouts and bolts share: the handshake, reading and writing messages, logging and
error reporting through the engine, and emitting."""

import collections
import logging
import os
import sys
import threading
from time import monotonic as _monotonic
import traceback

from .serializers import EngineGone, ProtocolError, buffered, detect_serializer, make_serializer

_get_ident = threading.get_ident

__all__ = ["Component", "Tuple", "EngineLogHandler", "LOG_LEVELS"]

# The multi-lang log levels.
LOG_LEVELS = {
    "trace": 0,
    "debug": 1,
    "info": 2,
    "warn": 3,
    "warning": 3,
    "error": 4,
    "critical": 4,
}


# The batch extension of sparse's engine: the engine offers it in the handshake's conf,
# and a client that answers {"pid": N, "batch": BATCH_VERSION} may then receive and send
# {"command": "batch", "msgs": [...]}, which stands for its messages in order. Storm's
# engine never offers it, so a component talks plain multi-lang there.
BATCH_OFFER_KEY = "sparse.multilang.batch"
BATCH_VERSION = 1
# Messages buffered before the client writes them without waiting for its input to drain,
# and how long the first of them may wait (seconds): a slow bolt given a long batch of
# inputs still answers as it goes, so the engine sees it alive and acks flow.
MAX_BATCH = 256
MAX_BATCH_DELAY = 0.001


def _level_of_record(levelno):
    if levelno < logging.DEBUG:
        return 0
    if levelno < logging.INFO:
        return 1
    if levelno < logging.WARNING:
        return 2
    if levelno < logging.ERROR:
        return 3
    return 4


class Tuple(object):
    """One input of a bolt: its id, where it comes from, and its values.

    ``values`` is a list; ``tup["word"]`` reads a value by field name when the engine
    told the fields of the source stream in the handshake, and ``tup[0]`` by position.
    """

    __slots__ = ("id", "component", "stream", "task", "values", "fields")

    def __init__(self, id, component, stream, task, values, fields=None):
        self.id = id
        self.component = component
        self.stream = stream
        self.task = task
        self.values = values
        self.fields = fields

    @property
    def is_tick(self):
        """Whether this is a tick tuple of the engine."""
        return self.component == "__system" and self.stream == "__tick"

    @property
    def is_heartbeat(self):
        """Whether this is a heartbeat, which the bolt must answer with "sync"."""
        return self.task == -1 and self.stream == "__heartbeat"

    def __getitem__(self, key):
        if isinstance(key, str):
            if not self.fields or key not in self.fields:
                raise KeyError("stream %r of %r has no field %r (fields: %s)" % (self.stream, self.component, key, self.fields))
            return self.values[self.fields.index(key)]
        return self.values[key]

    def __len__(self):
        return len(self.values)

    def __eq__(self, other):
        return isinstance(other, Tuple) and (self.id, self.component, self.stream, self.task, self.values) == (
            other.id, other.component, other.stream, other.task, other.values)

    def __hash__(self):
        return hash((self.id, self.component, self.stream, self.task))

    def __repr__(self):
        return "Tuple(id=%r, component=%r, stream=%r, task=%r, values=%r)" % (
            self.id, self.component, self.stream, self.task, self.values)


class EngineLogHandler(logging.Handler):
    """A logging handler that sends records to the engine's log, with their level."""

    def __init__(self, component):
        super(EngineLogHandler, self).__init__()
        self._component = component

    def emit(self, record):
        try:
            self._component.log(self.format(record), level=_level_of_record(record.levelno))
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


class _PrintToLog(object):
    """Stands in for sys.stdout while a component runs, so that a stray print goes to
    the engine's log instead of corrupting the protocol."""

    def __init__(self, component):
        self._component = component

    def write(self, text):
        if text.strip():
            self._component.log(text.rstrip("\n"), level="info")
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False


class Component(object):
    """The base of Spout and Bolt.

    :ivar serializer: "json", "msgpack", or None to follow the engine (detected from the
        first byte of the handshake). The engine chooses with its config
        ``topology.multilang.serializer``.
    :ivar exit_on_exception: exit (and be restarted by the engine) when user code raises,
        instead of reporting the error and carrying on.
    :ivar batching: accept sparse's batch extension when the engine offers it (default
        True): messages to the engine are then buffered and written together when the
        component has handled all the input it was given, and the engine sends tuples
        in batches. Storm's engine never offers it.
    :ivar conf: the topology configuration, after the handshake.
    :ivar context: the topology context, after the handshake.
    :ivar logger: a ``logging.Logger`` whose records go to the engine's log.
    """

    serializer = None
    exit_on_exception = False
    batching = True

    def __init__(self, input_stream=None, output_stream=None, serializer=None):
        self._input = input_stream
        self._output = output_stream
        if serializer is not None:
            self.serializer = serializer
        self._ser = None
        self._pending_commands = collections.deque()
        self._pending_task_ids = collections.deque()
        self._write_lock = threading.RLock()
        self._batch = False  # the extension is on: messages wait in _outbox
        self._outbox = []
        self._outbox_since = 0.0
        self._reader_ident = None
        self.conf = None
        self.context = None
        self.task_id = None
        self.component_id = None
        self.topology_name = None
        self.pid = os.getpid()
        self.logger = logging.getLogger("sparse_multilang")

    # Hooks for subclasses.

    def initialize(self, conf, context):
        """Called once after the handshake, before any tuple or command."""

    # The protocol.

    def _connect(self):
        if self._ser is not None:
            return
        if self._input is None:
            self._input = sys.stdin.buffer
        if self._output is None:
            self._output = sys.stdout.buffer
        self._input = buffered(self._input)
        name = self.serializer or detect_serializer(self._input)
        self._ser = make_serializer(name, self._input, self._output)

    def read_message(self):
        """Read one message (a dict, or a list of task ids). With the batch extension,
        what is buffered for the engine is written first: the component is about to wait
        for its input, so the engine must have its answers."""
        self._connect()
        if self._outbox:
            self._flush_outbox()
        return self._ser.read_message()

    def send_message(self, message):
        """Write one message to the engine. With the batch extension it is buffered
        until the component waits for input, MAX_BATCH messages are waiting or the first
        has waited MAX_BATCH_DELAY; a message sent from another thread than the one
        reading the input is written at once."""
        if self._batch:
            with self._write_lock:
                out = self._outbox
                out.append(message)
                n = len(out)
                if n == 1:
                    self._outbox_since = _monotonic()
                elif n >= MAX_BATCH or _monotonic() - self._outbox_since > MAX_BATCH_DELAY:
                    self._flush_outbox()
                    return
                if _get_ident() != self._reader_ident:
                    self._flush_outbox()
            return
        self._connect()
        with self._write_lock:
            self._ser.write_message(message)

    def _flush_outbox(self):
        """Write the messages buffered for the engine, as one batch message."""
        with self._write_lock:
            out = self._outbox
            if not out:
                return
            self._outbox = []
            if len(out) == 1:
                self._ser.write_message(out[0])
            else:
                self._ser.write_message({"command": "batch", "msgs": out})

    def _unbatch(self, message):
        """Queue the messages of a batch from the engine: commands and tuples for
        read_command, task id lists for read_task_ids."""
        msgs = message.get("msgs")
        if not isinstance(msgs, list):
            raise ProtocolError("the engine sent a batch without a \"msgs\" list: %r" % (message,))
        for m in msgs:
            if isinstance(m, list):
                self._pending_task_ids.append(m)
            elif isinstance(m, dict) and m.get("command") != "batch":
                self._pending_commands.append(m)
            else:
                raise ProtocolError("the engine sent a batch holding %r, which is neither a command nor a task id list" % (m,))

    def read_command(self):
        """Read the next command or tuple, keeping task id lists for read_task_ids."""
        if self._pending_commands:
            return self._pending_commands.popleft()
        while True:
            message = self.read_message()
            if isinstance(message, list):
                self._pending_task_ids.append(message)
                continue
            if not isinstance(message, dict):
                raise ProtocolError("the engine sent %r, which is neither a command nor a task id list" % (message,))
            if self._batch and message.get("command") == "batch":
                self._unbatch(message)
                if self._pending_commands:
                    return self._pending_commands.popleft()
                continue
            return message

    def read_task_ids(self):
        """Read the task ids answering an emit, keeping commands for read_command."""
        if self._pending_task_ids:
            return self._pending_task_ids.popleft()
        while True:
            message = self.read_message()
            if isinstance(message, list):
                return message
            if self._batch and isinstance(message, dict) and message.get("command") == "batch":
                self._unbatch(message)
                if self._pending_task_ids:
                    return self._pending_task_ids.popleft()
                continue
            self._pending_commands.append(message)

    def read_handshake(self):
        """Read the handshake, create the pid file and answer with the pid."""
        message = self.read_command()
        try:
            conf, context, pid_dir = message["conf"], message["context"], message["pidDir"]
        except (KeyError, TypeError):
            raise ProtocolError("the first message is not a handshake: %r" % (message,))
        open(os.path.join(pid_dir, str(self.pid)), "w").close()
        offered = isinstance(conf, dict) and conf.get(BATCH_OFFER_KEY) == BATCH_VERSION
        if offered and self.batching:
            self.send_message({"pid": self.pid, "batch": BATCH_VERSION})
            self._reader_ident = _get_ident()
            self._batch = True
        else:
            self.send_message({"pid": self.pid})
        self._setup(conf, context)
        return conf, context

    def _setup(self, conf, context):
        self.conf = conf or {}
        self.context = context or {}
        self.task_id = self.context.get("taskid")
        self.component_id = self.context.get("componentid")
        if self.component_id is None:
            self.component_id = self.context.get("task->component", {}).get(str(self.task_id), "")
        self.topology_name = self.conf.get("topology.name", "")
        self.logger = logging.getLogger("sparse_multilang.%s" % (self.component_id or "component"))
        self.logger.propagate = False
        self.logger.handlers = [h for h in self.logger.handlers if not isinstance(h, EngineLogHandler)]
        self.logger.addHandler(EngineLogHandler(self))
        self.logger.setLevel(logging.DEBUG if self.conf.get("topology.debug") else logging.INFO)

    # Talking to the engine.

    def log(self, message, level="info"):
        """Write a line to the engine's log. ``level`` is trace, debug, info, warn or
        error, or a number from 0 (trace) to 4 (error)."""
        if not isinstance(level, int):
            level = LOG_LEVELS.get(str(level).lower(), 2)
        self.send_message({"command": "log", "msg": str(message), "level": level})

    def report_error(self, error):
        """Report an error to the engine (it counts and logs it against this task).
        ``error`` is a message or an exception; an exception being handled is reported
        with its traceback."""
        if isinstance(error, BaseException):
            if error is sys.exc_info()[1]:
                text = traceback.format_exc()
            else:
                text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        else:
            text = str(error)
        self.send_message({"command": "error", "msg": text.rstrip("\n")})
        self._flush_outbox()

    def metric(self, name, params):
        """Send a metric value to the engine (Storm's "metrics" command)."""
        self.send_message({"command": "metrics", "name": name, "params": params})

    def sync(self):
        self.send_message({"command": "sync"})

    def _emit(self, values, stream=None, anchors=None, tup_id=None, direct_task=None, need_task_ids=False):
        if not isinstance(values, (list, tuple)):
            raise TypeError("emit takes a list or tuple of values, not a %s" % type(values).__name__)
        message = {"command": "emit", "tuple": list(values), "need_task_ids": bool(need_task_ids)}
        if stream is not None:
            message["stream"] = stream
        if anchors is not None:
            message["anchors"] = anchors
        if tup_id is not None:
            message["id"] = tup_id
        if direct_task is not None:
            message["task"] = direct_task
        self.send_message(message)
        if not need_task_ids:
            return None
        if direct_task is not None:
            return [direct_task]  # the engine answers only emits that it routes
        return self.read_task_ids()

    # Running.

    def run(self):
        """Do the handshake, call initialize, then serve the engine until it closes the
        stream. Call it from the script's main."""
        real_stdout = None
        try:
            self._connect()
            if self._output is getattr(sys.stdout, "buffer", None):
                real_stdout, sys.stdout = sys.stdout, _PrintToLog(self)
            conf, context = self.read_handshake()
            self.initialize(conf, context)
            while True:
                self._run_once()
        except EngineGone:
            return
        except Exception as exc:
            try:
                self._flush_outbox()
                self.report_error(exc)
            except Exception:
                pass
            traceback.print_exc(file=sys.stderr)
            sys.exit(1)
        finally:
            if real_stdout is not None:
                sys.stdout = real_stdout

    def _run_once(self):
        raise NotImplementedError

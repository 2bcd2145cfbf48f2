"""Framing of multi-lang messages: JSON (Storm's) and msgpack (pystorm's).

Both work on binary streams. JSON writes every message as one line of JSON followed by a
line ``end``; msgpack writes values back to back, since msgpack values delimit
themselves. The msgpack serializer uses the ``msgpack`` package when it is installed and
a bundled pure-Python codec otherwise.
"""

import base64
import io
import json

from . import _msgpack

try:  # pragma: no cover - depends on the environment
    import msgpack as _msgpack_lib
except ImportError:  # pragma: no cover
    _msgpack_lib = None

__all__ = [
    "EngineGone",
    "ProtocolError",
    "Serializer",
    "JsonSerializer",
    "MsgpackSerializer",
    "HAVE_MSGPACK_PACKAGE",
    "make_serializer",
    "detect_serializer",
]

HAVE_MSGPACK_PACKAGE = _msgpack_lib is not None


class EngineGone(Exception):
    """The engine closed the subprocess's stdin: time to exit."""


class ProtocolError(Exception):
    """The engine sent something that is not a multi-lang message."""


class Serializer(object):
    """Reads messages from a binary input stream and writes them to a binary output
    stream. Subclasses define ``read_message`` and ``encode``."""

    name = None

    def __init__(self, input_stream, output_stream):
        self.input_stream = input_stream
        self.output_stream = output_stream

    def read_message(self):
        raise NotImplementedError

    def encode(self, message):
        raise NotImplementedError

    def write_message(self, message):
        self.output_stream.write(self.encode(message))
        self.output_stream.flush()


def _json_default(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        # JSON has no binary type; the engine sends []byte as base64 strings too.
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError("a %s cannot be sent as JSON" % type(value).__name__)


class JsonSerializer(Serializer):
    """Storm's framing: a JSON value, a newline, and a line ``end``."""

    name = "json"

    def read_message(self):
        lines = []
        while True:
            line = self.input_stream.readline()
            if not line:
                raise EngineGone("the engine closed the stream" + (" in the middle of a message" if lines else ""))
            if line in (b"end\n", b"end\r\n", b"end"):
                break
            if not lines and not line.strip():
                continue  # blank lines between messages
            lines.append(line)
        text = b"".join(lines)
        try:
            return json.loads(text.decode("utf-8"))
        except ValueError as exc:
            raise ProtocolError("the engine sent a message that is not JSON (%s): %r" % (exc, text[:80]))

    def encode(self, message):
        text = json.dumps(message, default=_json_default, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8") + b"\nend\n"


def _read1(stream):
    """A function returning whatever bytes are available (at least one, or none at EOF)."""
    if hasattr(stream, "read1"):
        return lambda: stream.read1(65536)
    return lambda: stream.read(1)


class MsgpackSerializer(Serializer):
    """pystorm's framing: consecutive msgpack values with no delimiter."""

    name = "msgpack"

    def __init__(self, input_stream, output_stream):
        super(MsgpackSerializer, self).__init__(input_stream, output_stream)
        if _msgpack_lib is not None:
            try:
                self._unpacker = _msgpack_lib.Unpacker(raw=False, strict_map_key=False)
            except TypeError:  # msgpack < 1.0
                self._unpacker = _msgpack_lib.Unpacker(raw=False)
            self._chunk = _read1(input_stream)
        else:
            self._unpacker = None
            self._fallback = _msgpack.Unpacker(input_stream.read)

    def read_message(self):
        if self._unpacker is None:
            try:
                return self._fallback.unpack()
            except EOFError:
                raise EngineGone("the engine closed the stream")
            except _msgpack.UnpackError as exc:
                raise ProtocolError("the engine sent bad msgpack: %s" % exc)
        while True:
            for message in self._unpacker:
                return message
            data = self._chunk()
            if not data:
                raise EngineGone("the engine closed the stream")
            self._unpacker.feed(data)

    def encode(self, message):
        if _msgpack_lib is not None:
            return _msgpack_lib.packb(message, use_bin_type=True)
        return _msgpack.packb(message)


_SERIALIZERS = {"json": JsonSerializer, "msgpack": MsgpackSerializer}


def make_serializer(name, input_stream, output_stream):
    """Return the serializer called ``name`` ("json" or "msgpack")."""
    try:
        cls = _SERIALIZERS[name]
    except KeyError:
        raise ValueError("unknown serializer %r; use 'json' or 'msgpack'" % (name,))
    return cls(input_stream, output_stream)


def detect_serializer(input_stream):
    """Guess the engine's serializer from the first byte of the handshake, without
    consuming it: a JSON object starts with '{', a msgpack map with 0x80-0x8f or
    0xde/0xdf. Returns "json" or "msgpack" (and "json" at the end of the stream)."""
    head = input_stream.peek(1)[:1]
    if not head:
        return "json"
    byte = head[0]
    if 0x80 <= byte <= 0x8F or byte in (0xDE, 0xDF):
        return "msgpack"
    return "json"


def buffered(stream):
    """Return a binary stream with ``peek`` over ``stream``."""
    if hasattr(stream, "peek"):
        return stream
    return io.BufferedReader(stream)

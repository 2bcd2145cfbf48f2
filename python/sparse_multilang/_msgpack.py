"""A small msgpack codec in pure Python, used when the ``msgpack`` package is missing.

It covers what the multi-lang protocol needs: nil, booleans, integers up to 64 bits,
floats, str, bin, arrays and maps. Strings are packed as str and bytes as bin, like
``msgpack.packb(obj, use_bin_type=True)``; extension types are refused.
"""

import struct

__all__ = ["packb", "Unpacker", "UnpackError"]


class UnpackError(ValueError):
    """The bytes are not a msgpack value the protocol uses."""


_MAX_DEPTH = 100


def packb(obj):
    """Return the msgpack encoding of ``obj``."""
    out = bytearray()
    _pack(obj, out, 0)
    return bytes(out)


def _pack(obj, out, depth):
    if depth > _MAX_DEPTH:
        raise ValueError("values nested deeper than %d levels" % _MAX_DEPTH)
    if obj is None:
        out.append(0xC0)
    elif obj is True:
        out.append(0xC3)
    elif obj is False:
        out.append(0xC2)
    elif isinstance(obj, int):
        _pack_int(obj, out)
    elif isinstance(obj, float):
        out.append(0xCB)
        out += struct.pack(">d", obj)
    elif isinstance(obj, str):
        data = obj.encode("utf-8")
        n = len(data)
        if n <= 31:
            out.append(0xA0 | n)
        elif n <= 0xFF:
            out += bytes((0xD9, n))
        elif n <= 0xFFFF:
            out.append(0xDA)
            out += struct.pack(">H", n)
        else:
            out.append(0xDB)
            out += struct.pack(">I", n)
        out += data
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        data = bytes(obj)
        n = len(data)
        if n <= 0xFF:
            out += bytes((0xC4, n))
        elif n <= 0xFFFF:
            out.append(0xC5)
            out += struct.pack(">H", n)
        else:
            out.append(0xC6)
            out += struct.pack(">I", n)
        out += data
    elif isinstance(obj, (list, tuple)):
        _pack_len(len(obj), out, 0x90, 0xDC)
        for item in obj:
            _pack(item, out, depth + 1)
    elif isinstance(obj, dict):
        _pack_len(len(obj), out, 0x80, 0xDE)
        for key, value in obj.items():
            _pack(key, out, depth + 1)
            _pack(value, out, depth + 1)
    else:
        raise TypeError("cannot pack a %s to msgpack" % type(obj).__name__)


def _pack_int(n, out):
    if 0 <= n <= 0x7F:
        out.append(n)
    elif -32 <= n < 0:
        out.append(n & 0xFF)
    elif 0 <= n <= 0xFF:
        out += bytes((0xCC, n))
    elif 0 <= n <= 0xFFFF:
        out.append(0xCD)
        out += struct.pack(">H", n)
    elif 0 <= n <= 0xFFFFFFFF:
        out.append(0xCE)
        out += struct.pack(">I", n)
    elif 0 <= n <= 0xFFFFFFFFFFFFFFFF:
        out.append(0xCF)
        out += struct.pack(">Q", n)
    elif -0x80 <= n < 0:
        out.append(0xD0)
        out += struct.pack(">b", n)
    elif -0x8000 <= n < 0:
        out.append(0xD1)
        out += struct.pack(">h", n)
    elif -0x80000000 <= n < 0:
        out.append(0xD2)
        out += struct.pack(">i", n)
    elif -0x8000000000000000 <= n < 0:
        out.append(0xD3)
        out += struct.pack(">q", n)
    else:
        raise OverflowError("integer %d does not fit in 64 bits" % n)


def _pack_len(n, out, fix, wide):
    if n <= 15:
        out.append(fix | n)
    elif n <= 0xFFFF:
        out.append(wide)
        out += struct.pack(">H", n)
    else:
        out.append(wide + 1)
        out += struct.pack(">I", n)


class Unpacker(object):
    """Reads consecutive msgpack values from ``read``, a function that returns exactly the
    number of bytes asked for, or fewer at the end of the stream. It never asks for more
    bytes than the value being decoded needs, so it can read from a pipe.
    """

    def __init__(self, read):
        self._read = read

    def unpack(self):
        """Return the next value; raise EOFError at a clean end of the stream."""
        first = self._read(1)
        if not first:
            raise EOFError("end of stream")
        return self._value(first[0], 0)

    def _exact(self, n):
        data = self._read(n) if n else b""
        if len(data) != n:
            raise UnpackError("the stream ended in the middle of a msgpack value")
        return data

    def _next(self, depth):
        if depth > _MAX_DEPTH:
            raise UnpackError("values nested deeper than %d levels" % _MAX_DEPTH)
        return self._value(self._exact(1)[0], depth)

    def _value(self, c, depth):
        if c <= 0x7F:
            return c
        if c >= 0xE0:
            return c - 0x100
        if 0x80 <= c <= 0x8F:
            return self._map(c & 0x0F, depth)
        if 0x90 <= c <= 0x9F:
            return self._array(c & 0x0F, depth)
        if 0xA0 <= c <= 0xBF:
            return self._exact(c & 0x1F).decode("utf-8", "surrogateescape")
        if c == 0xC0:
            return None
        if c == 0xC2:
            return False
        if c == 0xC3:
            return True
        if c in (0xC4, 0xC5, 0xC6):
            return self._exact(self._uint(1 << (c - 0xC4)))
        if c in (0xD9, 0xDA, 0xDB):
            return self._exact(self._uint(1 << (c - 0xD9))).decode("utf-8", "surrogateescape")
        if c == 0xCA:
            return struct.unpack(">f", self._exact(4))[0]
        if c == 0xCB:
            return struct.unpack(">d", self._exact(8))[0]
        if c in (0xCC, 0xCD, 0xCE, 0xCF):
            return self._uint(1 << (c - 0xCC))
        if c in (0xD0, 0xD1, 0xD2, 0xD3):
            size = 1 << (c - 0xD0)
            return int.from_bytes(self._exact(size), "big", signed=True)
        if c in (0xDC, 0xDD):
            return self._array(self._uint(2 << (c - 0xDC)), depth)
        if c in (0xDE, 0xDF):
            return self._map(self._uint(2 << (c - 0xDE)), depth)
        if c in (0xC7, 0xC8, 0xC9, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8):
            raise UnpackError("msgpack extension types (byte 0x%02x) are not supported" % c)
        raise UnpackError("byte 0x%02x is not a msgpack type" % c)

    def _uint(self, size):
        return int.from_bytes(self._exact(size), "big")

    def _array(self, n, depth):
        return [self._next(depth + 1) for _ in range(n)]

    def _map(self, n, depth):
        out = {}
        for _ in range(n):
            key = self._next(depth + 1)
            if isinstance(key, (list, dict)):
                raise UnpackError("a msgpack map key is a %s" % type(key).__name__)
            out[key] = self._next(depth + 1)
        return out

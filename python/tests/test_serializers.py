import io
import math
import unittest

from sparse_multilang import _msgpack
from sparse_multilang.serializers import (
    EngineGone,
    JsonSerializer,
    MsgpackSerializer,
    ProtocolError,
    buffered,
    detect_serializer,
)

VALUES = [
    None, True, False, 0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**63 - 1, 2**64 - 1,
    -1, -32, -33, -128, -129, -32768, -32769, -2**31, -2**31 - 1, -2**63,
    0.5, -2.25, 1e300, "", "a", "x" * 31, "x" * 32, "x" * 255, "x" * 256, "x" * 70000, "snow ☃",
    b"", b"\x00\xff", b"y" * 300, b"y" * 70000,
    [], [1, [2, [3]]], list(range(20)), {}, {"k": "v", "n": {"deep": [None]}}, {str(i): i for i in range(20)},
]


class MsgpackCodecTest(unittest.TestCase):
    def test_round_trip(self):
        for value in VALUES:
            data = _msgpack.packb(value)
            got = _msgpack.Unpacker(io.BytesIO(data).read).unpack()
            self.assertEqual(got, value, "round trip of %r" % (value,))

    def test_tuples_pack_as_lists(self):
        self.assertEqual(_msgpack.Unpacker(io.BytesIO(_msgpack.packb((1, "a"))).read).unpack(), [1, "a"])

    def test_consecutive_values_and_eof(self):
        stream = io.BytesIO(_msgpack.packb({"a": 1}) + _msgpack.packb([2]))
        unpacker = _msgpack.Unpacker(stream.read)
        self.assertEqual(unpacker.unpack(), {"a": 1})
        self.assertEqual(unpacker.unpack(), [2])
        with self.assertRaises(EOFError):
            unpacker.unpack()

    def test_errors(self):
        for data in (b"\xc1", b"\xd4\x01\x02", _msgpack.packb("hello")[:3], b"\x81\x90\x01", b"\x91" * 200):
            with self.assertRaises(_msgpack.UnpackError, msg=repr(data)):
                _msgpack.Unpacker(io.BytesIO(data).read).unpack()
        with self.assertRaises(TypeError):
            _msgpack.packb(object())
        with self.assertRaises(OverflowError):
            _msgpack.packb(2**64)

    def test_known_encodings(self):
        # Checked against the msgpack specification.
        self.assertEqual(_msgpack.packb({"a": [1, -1, None]}), b"\x81\xa1a\x93\x01\xff\xc0")
        self.assertEqual(_msgpack.packb(1.5), b"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00")
        self.assertEqual(_msgpack.packb(b"\x01"), b"\xc4\x01\x01")
        self.assertEqual(_msgpack.Unpacker(io.BytesIO(b"\xca\x3f\xc0\x00\x00").read).unpack(), 1.5)


class JsonSerializerTest(unittest.TestCase):
    def test_read_framing(self):
        data = b"\n{\"a\":\n1}\nend\n[1,2]\nend\n{\"b\":2}\r\nend\r\n"
        ser = JsonSerializer(io.BytesIO(data), io.BytesIO())
        self.assertEqual(ser.read_message(), {"a": 1})
        self.assertEqual(ser.read_message(), [1, 2])
        self.assertEqual(ser.read_message(), {"b": 2})
        with self.assertRaises(EngineGone):
            ser.read_message()

    def test_truncated_and_garbage(self):
        with self.assertRaises(EngineGone):
            JsonSerializer(io.BytesIO(b"{\"a\":1}\n"), io.BytesIO()).read_message()
        with self.assertRaises(ProtocolError):
            JsonSerializer(io.BytesIO(b"nope\nend\n"), io.BytesIO()).read_message()

    def test_write(self):
        out = io.BytesIO()
        ser = JsonSerializer(io.BytesIO(), out)
        ser.write_message({"command": "emit", "tuple": ["é\nend\n", b"\x00\x01", (1, 2)]})
        self.assertEqual(out.getvalue(), '{"command":"emit","tuple":["é\\nend\\n","AAE=",[1,2]]}\nend\n'.encode("utf-8"))
        with self.assertRaises(ValueError):
            ser.write_message({"f": math.nan})


class MsgpackSerializerTest(unittest.TestCase):
    def test_round_trip_through_streams(self):
        out = io.BytesIO()
        writer = MsgpackSerializer(io.BytesIO(), out)
        messages = [{"command": "emit", "tuple": [b"\x00", "s", 1, 2.5, None, [1], {"k": True}]}, [3, 4]]
        for m in messages:
            writer.write_message(m)
        reader = MsgpackSerializer(buffered(io.BytesIO(out.getvalue())), io.BytesIO())
        self.assertEqual([reader.read_message(), reader.read_message()], messages)
        with self.assertRaises(EngineGone):
            reader.read_message()


class DetectTest(unittest.TestCase):
    def test_detect(self):
        self.assertEqual(detect_serializer(buffered(io.BytesIO(b'{"conf":{}}\nend\n'))), "json")
        self.assertEqual(detect_serializer(buffered(io.BytesIO(_msgpack.packb({"conf": {}, "pidDir": "", "context": {}})))), "msgpack")
        self.assertEqual(detect_serializer(buffered(io.BytesIO(b""))), "json")
        stream = buffered(io.BytesIO(b"{}"))
        detect_serializer(stream)
        self.assertEqual(stream.read(), b"{}", "detection must not consume input")


if __name__ == "__main__":
    unittest.main()

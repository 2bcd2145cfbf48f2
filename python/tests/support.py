"""Helpers that run a component against in-memory streams."""

import io
import json
import shutil
import tempfile

from sparse_multilang import _msgpack


def frame(messages, serializer="json"):
    """Encode messages as the engine would send them."""
    if serializer == "msgpack":
        return b"".join(_msgpack.packb(m) for m in messages)
    return b"".join(json.dumps(m).encode("utf-8") + b"\nend\n" for m in messages)


def unframe(data, serializer="json"):
    """Decode what a component wrote."""
    if serializer == "msgpack":
        stream = io.BytesIO(data)
        unpacker = _msgpack.Unpacker(stream.read)
        out = []
        while True:
            try:
                out.append(unpacker.unpack())
            except EOFError:
                return out
    out = []
    for chunk in data.decode("utf-8").split("\nend\n"):
        if chunk.strip():
            out.append(json.loads(chunk))
    return out


class PidDir(object):
    """A temporary pidDir."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="sparse-multilang-test-")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


def handshake(pid_dir, conf=None, context=None):
    ctx = {
        "task->component": {"1": "spout", "2": "bolt", "3": "bolt"},
        "taskid": 2,
        "componentid": "bolt",
        "source->stream->fields": {"spout": {"default": ["sentence", "n"]}},
    }
    ctx.update(context or {})
    return {"conf": conf or {"topology.name": "test"}, "pidDir": pid_dir, "context": ctx}


def tup(id, values, comp="spout", stream="default", task=1):
    return {"id": id, "comp": comp, "stream": stream, "task": task, "tuple": values}


def tick(secs=1, id="tick-1"):
    return {"id": id, "comp": "__system", "stream": "__tick", "task": -1, "tuple": [secs]}


HEARTBEAT = {"id": "heartbeat", "comp": "__system", "stream": "__heartbeat", "task": -1, "tuple": []}


def run(component_cls, messages, serializer="json", pass_serializer=True, **kwargs):
    """Run a component over the messages (the handshake is added) until the input ends;
    return the component and the messages it wrote after its pid."""
    with PidDir() as pid_dir:
        data = frame([handshake(pid_dir, **kwargs)] + list(messages), serializer)
        out = io.BytesIO()
        comp = component_cls(io.BytesIO(data), out, serializer=serializer if pass_serializer else None)
        comp.run()
        written = unframe(out.getvalue(), serializer)
        return comp, written

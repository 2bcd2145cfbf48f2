"""A Python client of the multi-lang protocol for sparse (and Apache Storm).

Write a bolt or a spout by subclassing Bolt, BatchingBolt or Spout and call ``run()``
from the script; the engine starts the script as a subprocess and talks to it over
stdin and stdout::

    from sparse_multilang import Bolt

    class SplitBolt(Bolt):
        def process(self, tup):
            for word in tup.values[0].split():
                self.emit([word])

    if __name__ == "__main__":
        SplitBolt().run()

The standard library is enough. The msgpack serializer uses the ``msgpack`` package when
it is installed and a bundled codec otherwise; the client follows whichever serializer
the engine speaks.
"""

from .bolt import BatchingBolt, Bolt
from .component import LOG_LEVELS, Component, EngineLogHandler, Tuple
from .serializers import (
    HAVE_MSGPACK_PACKAGE,
    EngineGone,
    JsonSerializer,
    MsgpackSerializer,
    ProtocolError,
)
from .spout import Spout

__all__ = [
    "BatchingBolt",
    "Bolt",
    "Component",
    "EngineGone",
    "EngineLogHandler",
    "HAVE_MSGPACK_PACKAGE",
    "JsonSerializer",
    "LOG_LEVELS",
    "MsgpackSerializer",
    "ProtocolError",
    "Spout",
    "Tuple",
]

__version__ = "0.1.0"

"""streamparse's API on sparse: run a streamparse project unchanged, with no JVM.

The classes a streamparse project imports (``Bolt``, ``Spout``, ``BatchingBolt``,
``TicklessBatchingBolt``, ``Topology``, ``Grouping``, ``Stream``, ``ShellBolt``,
``ShellSpout``) are sparse's own, built on the bundled multi-lang client
(``sparse_multilang``), with the standard library only. ``JavaBolt`` and ``JavaSpout``
refuse: sparse runs no JVM.

``python -m streamparse.run MODULE.CLASS`` runs one component (what sparse starts for
each task); ``python -m streamparse.describe FILE NAME`` prints a topology file's
topology as JSON (what ``sparsectl run`` and ``sparsectl submit`` read).
"""

from sparse_multilang import Tuple

from .bolt import BatchingBolt, Bolt, TicklessBatchingBolt
from .dsl import (
    ComponentSpec,
    Grouping,
    JavaBolt,
    JavaSpout,
    ShellBolt,
    ShellSpout,
    Stream,
    Topology,
    TopologyError,
)
from .spout import ReliableSpout, Spout

__all__ = [
    "BatchingBolt",
    "Bolt",
    "ComponentSpec",
    "Grouping",
    "JavaBolt",
    "JavaSpout",
    "ReliableSpout",
    "ShellBolt",
    "ShellSpout",
    "Spout",
    "Stream",
    "TicklessBatchingBolt",
    "Topology",
    "TopologyError",
    "Tuple",
]

__version__ = "0.1.0"

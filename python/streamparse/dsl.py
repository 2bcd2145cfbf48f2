"""The topology DSL: component specs, streams, groupings and Topology classes.

A topology file declares a Topology subclass whose attributes are component specs::

    class WordCount(Topology):
        word_spout = WordSpout.spec()
        count_bolt = WordCountBolt.spec(inputs={word_spout: Grouping.fields("word")}, par=2)

Declaring the class checks it (unknown inputs, undeclared streams and fields) and raises
TopologyError naming the problem. ``Topology.to_dict()`` is the topology as data, which
sparse turns into its own topology spec.
"""

import json

__all__ = [
    "ComponentSpec",
    "Grouping",
    "JavaBolt",
    "JavaSpout",
    "ShellBolt",
    "ShellSpout",
    "Stream",
    "Topology",
    "TopologyError",
]


class TopologyError(Exception):
    """A topology that cannot run: the message says what is wrong and how to fix it."""


class Stream(object):
    """An output stream of a component: its fields, its name (default "default") and
    whether it is direct (fed only by emits with ``direct_task``)."""

    def __init__(self, fields=None, name="default", direct=False):
        if fields is None:
            fields = []
        if isinstance(fields, str):
            fields = [fields]
        fields = list(fields)
        for f in fields:
            if not isinstance(f, str):
                raise TopologyError("stream %r: field %r is not a string; give field names as strings" % (name, f))
        if not isinstance(name, str) or not name:
            raise TopologyError("a stream name must be a non-empty string, not %r" % (name,))
        self.fields = fields
        self.name = name
        self.direct = bool(direct)

    def __repr__(self):
        return "Stream(fields=%r, name=%r, direct=%r)" % (self.fields, self.name, self.direct)

    def __eq__(self, other):
        return isinstance(other, Stream) and (self.fields, self.name, self.direct) == (other.fields, other.name, other.direct)

    def __hash__(self):
        return hash((tuple(self.fields), self.name, self.direct))


class _Grouping(object):
    """One grouping: a type and, for fields groupings, the fields."""

    def __init__(self, type, fields=None):
        self.type = type
        self.fields = list(fields or [])

    def __repr__(self):
        if self.fields:
            return "Grouping.fields(%s)" % ", ".join(repr(f) for f in self.fields)
        return "Grouping.%s" % self.type.upper()

    def __eq__(self, other):
        return isinstance(other, _Grouping) and (self.type, self.fields) == (other.type, other.fields)

    def __hash__(self):
        return hash((self.type, tuple(self.fields)))

    def to_dict(self):
        d = {"type": self.type}
        if self.fields:
            d["fields"] = list(self.fields)
        return d


class Grouping(object):
    """How a stream's tuples are spread over a bolt's tasks, as in streamparse."""

    SHUFFLE = _Grouping("shuffle")
    GLOBAL = _Grouping("global")
    ALL = _Grouping("all")
    NONE = _Grouping("none")
    LOCAL_OR_SHUFFLE = _Grouping("local_or_shuffle")
    DIRECT = _Grouping("direct")

    @staticmethod
    def fields(*fields):
        """Tuples with equal values of these fields go to the same task."""
        if len(fields) == 1 and isinstance(fields[0], (list, tuple)):
            fields = fields[0]
        if not fields:
            raise TopologyError("Grouping.fields needs at least one field name, e.g. Grouping.fields('word')")
        for f in fields:
            if not isinstance(f, str):
                raise TopologyError("Grouping.fields: %r is not a field name; give field names as strings" % (f,))
        return _Grouping("fields", fields)

    @staticmethod
    def partial_key(*fields):
        """Like fields, spread over two candidate tasks to balance skewed keys."""
        g = Grouping.fields(*fields)
        g.type = "partial_key"
        return g

    @staticmethod
    def custom_object(java_class_name, args_list=None):
        raise TopologyError(
            "Grouping.custom_object(%r) needs a Java class, and sparse runs no JVM; use one of "
            "Grouping.fields, SHUFFLE, GLOBAL, ALL, NONE, LOCAL_OR_SHUFFLE or DIRECT, or write the "
            "grouping in Go (pkg/grouping)" % (java_class_name,))

    @staticmethod
    def custom_serialized(java_serialized):
        raise TopologyError(
            "Grouping.custom_serialized needs a serialized Java object, and sparse runs no JVM; use one "
            "of Grouping.fields, SHUFFLE, GLOBAL, ALL, NONE, LOCAL_OR_SHUFFLE or DIRECT, or write the "
            "grouping in Go (pkg/grouping)")


class _StreamRef(object):
    """A stream of a component, as ``spec["stream"]`` names it in inputs."""

    def __init__(self, spec, stream):
        self.spec = spec
        self.stream = stream

    def __eq__(self, other):
        return isinstance(other, _StreamRef) and self.spec is other.spec and self.stream == other.stream

    def __hash__(self):
        return hash((id(self.spec), self.stream))

    def __repr__(self):
        return "%r[%r]" % (self.spec, self.stream)


def _outputs(outputs, where):
    """Normalizes an ``outputs`` attribute: field names, or Stream objects."""
    if outputs is None:
        return []
    if isinstance(outputs, (str, Stream)):
        outputs = [outputs]
    if isinstance(outputs, dict):
        raise TopologyError("%s: outputs must be a list of field names or of Stream objects, not a dict" % where)
    outputs = list(outputs)
    if all(isinstance(o, str) for o in outputs):
        return [Stream(fields=outputs)] if outputs else []
    if all(isinstance(o, Stream) for o in outputs):
        seen = set()
        for s in outputs:
            if s.name in seen:
                raise TopologyError("%s: stream %r is declared twice in outputs" % (where, s.name))
            seen.add(s.name)
        return outputs
    raise TopologyError("%s: outputs mixes field names and Stream objects; give either a list of field "
                        "names (the default stream) or a list of Stream objects" % where)


def _check_par(par, where):
    if par is None:
        return 1
    if isinstance(par, bool) or not isinstance(par, int) or par < 1:
        raise TopologyError("%s: par must be a positive integer, not %r" % (where, par))
    return par


def _check_config(config, where):
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise TopologyError("%s: config must be a dict, not %s" % (where, type(config).__name__))
    try:
        json.dumps(config)
    except (TypeError, ValueError) as exc:
        raise TopologyError("%s: config must hold only JSON values (strings, numbers, booleans, lists, dicts): %s" % (where, exc))
    return dict(config)


class ComponentSpec(object):
    """A component in a topology: what runs, its parallelism, inputs, outputs and config.

    Made by ``Bolt.spec``, ``Spout.spec``, ``ShellBolt.spec`` and ``ShellSpout.spec``.
    ``spec["stream"]`` names one of its streams in another component's inputs.
    """

    def __init__(self, kind, name=None, inputs=None, par=None, config=None, outputs=None,
                 component_cls=None, command=None, script=None, args=None):
        where = "%s %s" % (kind, name or (component_cls.__name__ if component_cls else script or command))
        if kind not in ("spout", "bolt"):
            raise TopologyError("a component is a spout or a bolt, not %r" % (kind,))
        if name is not None and (not isinstance(name, str) or not name):
            raise TopologyError("%s: name must be a non-empty string, not %r" % (where, name))
        self.kind = kind
        self.name = name
        self.par = _check_par(par, where)
        self.config = _check_config(config, where)
        self.outputs = _outputs(outputs, where)
        self.component_cls = component_cls
        self.command = command
        self.script = script
        self.args = list(args or [])
        if kind == "spout" and inputs:
            raise TopologyError("%s: spouts take no inputs; subscribe a bolt to it instead" % where)
        self.inputs = self._inputs(inputs, where)

    @staticmethod
    def _inputs(inputs, where):
        """Normalizes inputs to a list of (spec, stream, grouping)."""
        if inputs is None:
            return []
        if isinstance(inputs, (ComponentSpec, _StreamRef)):
            inputs = [inputs]
        pairs = []
        if isinstance(inputs, dict):
            pairs = list(inputs.items())
        elif isinstance(inputs, (list, tuple)):
            pairs = [(i, Grouping.SHUFFLE) for i in inputs]
        else:
            raise TopologyError("%s: inputs must be a list of component specs or a dict of spec -> Grouping, not %s"
                                % (where, type(inputs).__name__))
        out = []
        for src, grouping in pairs:
            if isinstance(src, _StreamRef):
                spec, stream = src.spec, src.stream
            elif isinstance(src, ComponentSpec):
                spec, stream = src, "default"
            else:
                raise TopologyError("%s: input %r is not a component spec; use another component's spec "
                                    "(or spec['stream'] for a named stream)" % (where, src))
            if grouping is None:
                grouping = Grouping.SHUFFLE
            if not isinstance(grouping, _Grouping):
                raise TopologyError("%s: the grouping of input %r is %r, not a Grouping; use for example "
                                    "Grouping.fields('word') or Grouping.SHUFFLE" % (where, spec, grouping))
            out.append((spec, stream, grouping))
        return out

    def __getitem__(self, stream):
        if not isinstance(stream, str):
            raise TopologyError("spec[%r]: name a stream with a string" % (stream,))
        return _StreamRef(self, stream)

    def __repr__(self):
        return "<%s spec %s>" % (self.kind, self.name or "(unnamed)")

    def stream(self, name):
        for s in self.outputs:
            if s.name == name:
                return s
        return None

    def to_dict(self):
        d = {
            "name": self.name,
            "kind": self.kind,
            "par": self.par,
            "config": self.config,
            "outputs": [{"stream": s.name, "fields": list(s.fields), "direct": s.direct} for s in self.outputs],
            "inputs": [{"component": spec.name, "stream": stream, "grouping": g.to_dict()} for spec, stream, g in self.inputs],
        }
        if self.component_cls is not None:
            d["python"] = {"module": self.component_cls.__module__, "class": self.component_cls.__name__}
        else:
            d["shell"] = {"command": self.command, "script": self.script or "", "args": list(self.args)}
        return d


class _ShellSpec(object):
    kind = None

    @classmethod
    def spec(cls, name=None, command=None, script=None, inputs=None, par=None, config=None, outputs=None, args=None):
        """A component in another language, run as ``command script`` through the
        multi-lang protocol, in the project's src folder (the resources folder)."""
        if not command:
            raise TopologyError("%s.spec needs a command, for example command='node', script='split.js'" % cls.__name__)
        if inputs is not None and cls.kind == "spout":
            raise TopologyError("%s.spec: spouts take no inputs" % cls.__name__)
        return ComponentSpec(cls.kind, name=name, inputs=inputs, par=par, config=config, outputs=outputs,
                             command=command, script=script, args=args)


class ShellBolt(_ShellSpec):
    """A bolt in any language that speaks the multi-lang protocol."""
    kind = "bolt"


class ShellSpout(_ShellSpec):
    """A spout in any language that speaks the multi-lang protocol."""
    kind = "spout"


_NO_JVM = ("%s cannot run on sparse: sparse runs no JVM. Write the component in Python (a "
           "streamparse Bolt or Spout), in Go (a component of a Go topology), or in any language "
           "that speaks the multi-lang protocol (ShellBolt/ShellSpout)")


class JavaBolt(object):
    """Refused: sparse runs no JVM."""

    @classmethod
    def spec(cls, *args, **kwargs):
        raise TopologyError(_NO_JVM % "JavaBolt")


class JavaSpout(object):
    """Refused: sparse runs no JVM."""

    @classmethod
    def spec(cls, *args, **kwargs):
        raise TopologyError(_NO_JVM % "JavaSpout")


class _TopologyType(type):
    """Collects and checks the component specs of a Topology subclass."""

    def __new__(mcs, name, bases, attrs):
        cls = super(_TopologyType, mcs).__new__(mcs, name, bases, attrs)
        if not bases or bases == (object,):
            return cls  # Topology itself
        specs = []
        seen = {}
        for base in reversed(cls.__mro__[1:]):
            for attr, value in vars(base).items():
                if isinstance(value, ComponentSpec) and attr not in seen:
                    seen[attr] = value
        for attr, value in attrs.items():
            if isinstance(value, ComponentSpec):
                seen[attr] = value
        for attr, value in seen.items():
            if value.name is None:
                value.name = attr
            specs.append(value)
        cls.specs = specs
        cls.config = _check_config(attrs.get("config", getattr(cls, "config", None)), "topology %s" % name)
        _validate(name, specs)
        return cls


def _validate(topo, specs):
    names = {}
    for s in specs:
        if s.name in names and names[s.name] is not s:
            raise TopologyError("topology %s: two components are named %r; give each its own name" % (topo, s.name))
        names[s.name] = s
    if not any(s.kind == "spout" for s in specs):
        raise TopologyError("topology %s has no spout; add one, for example word_spout = WordSpout.spec()" % topo)
    for s in specs:
        if s.kind == "bolt" and not s.inputs:
            raise TopologyError("topology %s: bolt %r has no inputs; give it inputs=[some_spout] or "
                                "inputs={some_spout: Grouping.SHUFFLE}" % (topo, s.name))
        subscribed = set()
        for src, stream, grouping in s.inputs:
            if not any(src is other for other in specs):
                raise TopologyError("topology %s: bolt %r has an input from %r, which is not part of the topology; "
                                    "declare that spec as an attribute of the topology class" % (topo, s.name, src))
            out = src.stream(stream)
            if out is None:
                declared = [o.name for o in src.outputs]
                raise TopologyError("topology %s: bolt %r subscribes to stream %r of %r, which declares %s; fix the "
                                    "stream name or add it to the outputs of %s" % (
                                        topo, s.name, stream, src.name,
                                        "no output streams" if not declared else "only " + ", ".join(repr(d) for d in declared),
                                        src.component_cls.__name__ if src.component_cls else src.name))
            for f in grouping.fields:
                if f not in out.fields:
                    raise TopologyError("topology %s: bolt %r groups stream %r of %r on field %r, which that stream does "
                                        "not declare (its fields: %s)" % (topo, s.name, stream, src.name, f, ", ".join(out.fields)))
            if grouping.type == "direct" and not out.direct:
                raise TopologyError("topology %s: bolt %r uses a direct grouping on stream %r of %r, which is not direct; "
                                    "declare it as Stream(..., name=%r, direct=True)" % (topo, s.name, stream, src.name, stream))
            if grouping.type != "direct" and out.direct:
                raise TopologyError("topology %s: stream %r of %r is direct; subscribe bolt %r to it with Grouping.DIRECT"
                                    % (topo, stream, src.name, s.name))
            key = (src.name, stream)
            if key in subscribed:
                raise TopologyError("topology %s: bolt %r subscribes to stream %r of %r twice" % (topo, s.name, stream, src.name))
            subscribed.add(key)


Topology = _TopologyType("Topology", (object,), {
    "__doc__": "A topology: subclass it and declare component specs as class attributes; ``config`` "
               "is the topology's config.",
    "config": {},
    "specs": [],
    "__module__": __name__,
})


def topology_dict(cls, name=None):
    """A Topology subclass as data: its name, config and components."""
    return {
        "name": name or cls.__name__,
        "config": dict(cls.config),
        "components": [s.to_dict() for s in cls.specs],
    }

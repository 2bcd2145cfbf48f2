"""Print a topology file's topology as JSON:
``python -m streamparse.describe topologies/NAME.py NAME``.

The project's src folder must be on PYTHONPATH (sparsectl puts it there), as streamparse
puts it on sys.path before importing a topology. What the file prints goes to stderr; a
Python error prints its traceback and exits with status 1.
"""

import importlib.util
import json
import os
import sys
import traceback

from .dsl import Topology, TopologyError, topology_dict


def find_topology(path, module_name="topology"):
    """Imports the file and returns its Topology subclass."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None:
        raise TopologyError("%s is not a Python file" % path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = mod
    spec.loader.exec_module(mod)
    found = [v for v in vars(mod).values()
             if isinstance(v, type) and issubclass(v, Topology) and v is not Topology and v.__module__ == module_name]
    if not found:
        raise TopologyError("%s defines no Topology subclass; declare one, e.g. class WordCount(Topology): ..." % path)
    if len(found) > 1:
        raise TopologyError("%s defines %d Topology subclasses (%s); keep one per file" % (
            path, len(found), ", ".join(c.__name__ for c in found)))
    cls = found[0]
    for s in cls.specs:
        if s.component_cls is not None and s.component_cls.__module__ in (module_name, "__main__"):
            raise TopologyError("%s: component class %s is defined in the topology file; move it to a module "
                                "under src/ so that the workers can import it" % (path, s.component_cls.__name__))
    return cls


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (1, 2):
        sys.stderr.write("usage: python -m streamparse.describe topologies/NAME.py [NAME]\n")
        return 2
    path = argv[0]
    name = argv[1] if len(argv) > 1 else os.path.splitext(os.path.basename(path))[0]
    real_stdout, sys.stdout = sys.stdout, sys.stderr  # a print in the file must not corrupt the JSON
    try:
        cls = find_topology(path)
        data = topology_dict(cls, name)
        text = json.dumps(data)
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc(file=sys.stderr)
        return 1
    finally:
        sys.stdout = real_stdout
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

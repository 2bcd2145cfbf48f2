"""Run one component: ``python -m streamparse.run [-s SERIALIZER] MODULE.CLASS``.

sparse starts this for each task of a streamparse component, in the project's src folder
(which is thus on sys.path), as Storm starts streamparse_run.
"""

import argparse
import importlib
import sys


def load(target):
    """Imports MODULE.CLASS and returns the class."""
    module, _, name = target.rpartition(".")
    if not module:
        raise SystemExit("streamparse.run: %r names no module; give MODULE.CLASS, e.g. bolts.wordcount.WordCountBolt" % target)
    mod = importlib.import_module(module)
    try:
        return getattr(mod, name)
    except AttributeError:
        raise SystemExit("streamparse.run: module %s has no %s" % (module, name))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m streamparse.run", description=__doc__)
    p.add_argument("-s", "--serializer", default=None, help="json or msgpack (default: follow the engine)")
    p.add_argument("target", help="MODULE.CLASS of the component")
    a = p.parse_args(argv)
    cls = load(a.target)
    cls(serializer=a.serializer).run()


if __name__ == "__main__":
    main()

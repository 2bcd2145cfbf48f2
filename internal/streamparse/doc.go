// Package streamparse runs streamparse projects on sparse: it reads a project's
// config.json, evaluates a topology file (topologies/NAME.py, written with
// streamparse's Python DSL) in a Python subprocess that prints the topology as JSON
// (python -m streamparse.describe, from the bundled client), and turns that JSON into a
// sparse spec (internal/spec) whose components run with python -m streamparse.run in the
// project's src folder. The generic worker runs the spec, locally or on a cluster, like
// any spec topology; a project's virtualenvs/NAME.txt is installed per topology by
// internal/pyenv.
package streamparse

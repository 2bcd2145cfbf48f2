// Package python carries sparse's Python multi-lang client (the sparse_multilang
// package beside this file, and streamparse, its streamparse-compatible API) inside Go programs, so that the generic worker can put it
// on the PYTHONPATH of the scripts it runs: a spec bundle needs no Python package
// installed on the cluster's machines.
package python

import "embed"

// Client holds sparse_multilang/*.py and streamparse/*.py.
//
//go:embed sparse_multilang/*.py streamparse/*.py
var Client embed.FS

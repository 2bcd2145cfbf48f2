// Package spec reads topology spec files: a topology written as YAML, modelled on Apache
// Storm's Flux, whose components are scripts in a resources folder (multi-lang
// subprocesses) or Go components registered by name. With it a Python (or any other
// language) developer runs and submits a topology without writing Go:
//
//	sparsectl run topology.yaml
//	sparsectl submit topology.yaml
//
// # Format
//
//	name: wordcount                       # required; letters, digits, '.', '_', '-'
//	config:                               # topology config, as -o would set it
//	  topology.max.spout.pending: 500
//	spouts:
//	  - id: sentences                     # required, unique among spouts and bolts
//	    parallelism: 1                    # executors (default 1)
//	    tasks: 1                          # tasks (default: the parallelism)
//	    shell:                            # a script in the resources folder
//	      command: python3                # program: PATH, or a path in the resources folder
//	      script: spout.py                # first argument, a file in the resources folder
//	      args: ["--fast"]                # further arguments (optional)
//	      env: {PYTHONUNBUFFERED: "1"}    # added to the environment (optional)
//	    outputs:                          # the streams it emits on
//	      - fields: [sentence]            # stream "default"
//	bolts:
//	  - id: split
//	    parallelism: 2
//	    shell: {command: python3, script: split.py}
//	    outputs:
//	      - fields: [word]
//	      - stream: long                  # a named stream
//	        fields: [word, length]
//	      - stream: picked                # a direct stream (emit_direct only)
//	        fields: [word]
//	        direct: true
//	  - id: log
//	    go: log                           # a Go component registered in the worker
//	    config:                           # this component's own config
//	      topology.tick.tuple.freq.secs: 5
//	streams:                              # subscriptions: who gets what
//	  - from: sentences
//	    to: split
//	    grouping: {type: shuffle}         # default when grouping is left out
//	  - from: split
//	    to: log
//	    stream: long                      # default "default"
//	    grouping:
//	      type: fields                    # shuffle, fields, all, global, direct,
//	      fields: [word]                  # local_or_shuffle, none, partial_key
//
// Every component is either shell (a multi-lang subprocess per task, started in the
// resources folder with the worker's environment plus env) or go (a name in the
// worker's Registry; a registered component may come with default outputs, used when
// the spec declares none). Grouping types are case-insensitive (Flux writes FIELDS); custom
// groupings need Go code and are not available in specs. A stream entry may carry a
// name, for people only, as in Flux.
//
// Values under config keep their YAML types: integers become int64, other numbers
// float64, and lists and maps stay lists and maps. Anchors and aliases may be used for
// values; merge keys (<<) may not.
//
// # Errors
//
// Load reports every problem at once, each with the file, line and column of the YAML
// node it concerns and what to do about it:
//
//	spec topology.yaml has 1 problem:
//	topology.yaml:48:39: bolt "count": fields grouping on field "wrd", which stream "default" of "split" does not declare (it declares: word); fix the field name (did you mean "word"?) or declare it in the outputs of "split"
//
// The problems that topology.Validate finds in the built topology (a bad config value,
// a reserved name) are mapped back to the node of the component, or of the config key,
// they concern.
//
// # Bundles
//
// A bundle is what `sparsectl submit` uploads for a spec: a gzip-compressed tar of the
// spec, stored as BundleSpecName, and every file of the resources folder. Pack writes
// the entries sorted by name with fixed times, owners and modes (0755 or 0644), so the
// same inputs always give the same bytes and the same sha256. Unpack refuses absolute
// paths, "..", links and special files, and bounds the number and size of the files.
package spec

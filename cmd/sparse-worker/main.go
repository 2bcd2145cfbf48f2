// Command sparse-worker is the generic worker: the topology binary of topologies written
// as spec files (topology.yaml) with their scripts in a resources folder. supervisord
// starts it for the spec bundles that `sparsectl submit topology.yaml` uploads; it also
// runs and describes a spec by itself:
//
//	sparse-worker run --spec examples/wordcount-yaml/topology.yaml --time 10s
//	sparse-worker describe --spec examples/wordcount-yaml
//	sparse-worker components
package main

import "github.com/sparsestream/sparse/internal/generic"

func main() { generic.Main(generic.Builtins()) }

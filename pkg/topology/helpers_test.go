package topology_test

import (
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// nopSpout and nopBolt are components that do nothing; validation only needs factories.
type nopSpout struct{ topology.BaseSpout }

func (nopSpout) Open(*topology.Context, topology.SpoutCollector) error { return nil }
func (nopSpout) NextTuple()                                            {}

type nopBolt struct{ topology.BaseBolt }

func (nopBolt) Prepare(*topology.Context, topology.BoltCollector) error { return nil }
func (nopBolt) Execute(*tuple.Tuple)                                    {}

func newSpout() topology.Spout { return nopSpout{} }
func newBolt() topology.Bolt   { return nopBolt{} }

// Compile-time checks that the Base types give the no-op methods the interfaces need.
var (
	_ topology.Spout = nopSpout{}
	_ topology.Bolt  = nopBolt{}
)

package wire_test

import (
	"fmt"

	"github.com/sparsestream/sparse/internal/wire"
	"github.com/sparsestream/sparse/pkg/tuple"
)

func Example() {
	// The sender: one Source per task and stream, shared by the tuples it emits.
	split := &tuple.Source{Component: "split", Stream: tuple.DefaultStream, Task: 3, Fields: tuple.NewFields("word")}
	var enc wire.Encoder
	for _, w := range []string{"the", "cow"} {
		t := &tuple.Tuple{Source: split, Values: []any{w}, Anchors: []tuple.Anchor{{Root: 42, Edge: 7}}}
		if err := enc.AddTuple(5, t); err != nil { // for task 5
			panic(err)
		}
	}
	enc.AddControl(wire.Control{Kind: wire.ControlAck, Task: 9, Root: 42, Val: 7})
	batch := enc.Bytes() // one Frame.batch on the Transfer stream

	// The receiver: it knows which component runs each task and resolves (task, stream)
	// to its own shared Source.
	sources := map[int32]*tuple.Source{3: {Component: "split", Stream: tuple.DefaultStream, Task: 3, Fields: tuple.NewFields("word")}}
	resolve := func(task int32, stream string) *tuple.Source {
		if s := sources[task]; s != nil && s.Stream == stream {
			return s
		}
		return nil
	}
	err := wire.Decode(batch, resolve,
		func(dest int32, t *tuple.Tuple) {
			fmt.Printf("task %d gets %v from %s:%d, anchors %v\n", dest, t.Values, t.Component(), t.Task(), t.Anchors)
		},
		func(c wire.Control) { fmt.Printf("control %+v\n", c) })
	if err != nil {
		panic(err)
	}
	// Output:
	// task 5 gets [the] from split:3, anchors [{42 7}]
	// task 5 gets [cow] from split:3, anchors [{42 7}]
	// control {Kind:2 Task:9 Spout:0 Root:42 Val:7}
}

// Package checked lets the engine's own connectors emit values they have checked
// already, so that the engine does not check them a second time on the emitting
// goroutine, which for a connector is often its bottleneck.
package checked

// Emitter is a spout collector that also emits values its caller has checked: each is
// a canonical tuple value (a string, []byte, int64, float64, bool or nil, as
// tuple.Normalize leaves them), and their strings and byte slices hold at most
// tuple.MaxBytes in all. The engine's collectors implement it; a connector uses it when
// its collector does (a type assertion), and Emit otherwise.
type Emitter interface {
	EmitChecked(values []any, msgID any)
}

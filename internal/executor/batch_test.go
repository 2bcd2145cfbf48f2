package executor_test

import (
	"testing"

	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/internal/wire"
)

// The transport converts control messages between the executor and the wire as whole
// structs, which compiles only while both have the same fields of the same types.
var (
	_ = wire.Control(executor.Control{})
	_ = executor.Control(wire.Control{})
)

// TestControlKindsAreTheWires pins the executor's control kinds to the wire's numbers,
// so that a converted message keeps its meaning.
func TestControlKindsAreTheWires(t *testing.T) {
	for _, c := range []struct {
		name       string
		got, wired uint8
	}{
		{"init", executor.ControlInit, wire.ControlInit},
		{"ack", executor.ControlAck, wire.ControlAck},
		{"fail", executor.ControlFail, wire.ControlFail},
		{"reset", executor.ControlReset, wire.ControlReset},
		{"complete", executor.ControlComplete, wire.ControlComplete},
		{"failed", executor.ControlFailed, wire.ControlFailed},
	} {
		if c.got != c.wired {
			t.Errorf("executor's %s kind is %d, the wire's is %d", c.name, c.got, c.wired)
		}
	}
}

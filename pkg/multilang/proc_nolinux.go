//go:build unix && !linux

package multilang

import "syscall"

// setDeathSignal does nothing: only Linux has a parent-death signal; elsewhere the
// supervisor's group kill and the end of the subprocess's stdin end it.
func setDeathSignal(*syscall.SysProcAttr) {}

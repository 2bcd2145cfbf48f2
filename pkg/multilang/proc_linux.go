package multilang

import "syscall"

// setDeathSignal makes the kernel SIGKILL the subprocess when the worker's thread that
// started it ends. Go does not end its threads while the program runs (only one locked
// to a goroutine that exits, which shell components never do), so in effect the signal
// comes when the worker dies, whatever killed it.
func setDeathSignal(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGKILL }

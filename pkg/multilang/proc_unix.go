//go:build unix

package multilang

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup starts the subprocess in a process group of its own, so that killing
// it also kills what it started (a shell wrapper's interpreter, for example), and so that
// a Ctrl-C meant for the worker reaches the subprocess only through the worker.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killTree kills the subprocess's process group.
func killTree(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		return cmd.Process.Kill()
	}
	return nil
}

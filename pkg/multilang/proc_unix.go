//go:build unix

package multilang

import (
	"os"
	"os/exec"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// setProcessGroup chooses the subprocess's process group and reports whether it got
// one of its own.
//
// A worker that a supervisor started leads a process group that the supervisor kills
// as a whole when the worker dies or must stop, so the subprocess stays in it: that
// kill then also reaches the subprocess and whatever it started (a shell wrapper's
// interpreter, for example), even when the worker itself was SIGKILLed. Only a worker
// that is the foreground job of a terminal (run by hand, or in local mode) gives the
// subprocess a group of its own, so that a Ctrl-C meant for the worker reaches the
// subprocess only through the worker's orderly shutdown.
//
// On Linux the subprocess also gets SIGKILL when the worker dies (the parent-death
// signal), so that it does not outlive a worker that nobody group-kills.
func setProcessGroup(cmd *exec.Cmd) bool {
	attr := &syscall.SysProcAttr{}
	setDeathSignal(attr)
	own := terminalForeground()
	attr.Setpgid = own
	cmd.SysProcAttr = attr
	return own
}

// terminalForeground reports whether this process's group is the foreground group of
// its controlling terminal, where a Ctrl-C is delivered to the whole group.
var terminalForeground = sync.OnceValue(func() bool {
	tty, err := os.Open("/dev/tty")
	if err != nil {
		return false // no controlling terminal
	}
	defer tty.Close()
	fg, err := unix.IoctlGetInt(int(tty.Fd()), unix.TIOCGPGRP)
	return err == nil && fg == unix.Getpgrp()
})

// killTree kills the subprocess: its whole process group when it leads one, else the
// subprocess alone (its own children then read the end of their stdin, and the
// worker's group kill reaches them in any case).
func killTree(cmd *exec.Cmd, ownGroup bool) error {
	if cmd.Process == nil {
		return nil
	}
	if ownGroup {
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err == nil {
			return nil
		}
	}
	return cmd.Process.Kill()
}

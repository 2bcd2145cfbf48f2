//go:build !unix

package ctl

import "os/exec"

// killGroupOnCancel leaves the default: cancellation kills the process itself.
func killGroupOnCancel(*exec.Cmd) {}

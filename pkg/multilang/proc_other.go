//go:build !unix

package multilang

import "os/exec"

func ownProcessGroup(*exec.Cmd) {}

// killTree kills the subprocess.
func killTree(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return cmd.Process.Kill()
}

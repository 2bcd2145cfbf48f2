//go:build !unix

package multilang

import "os/exec"

func setProcessGroup(*exec.Cmd) bool { return false }

// killTree kills the subprocess.
func killTree(cmd *exec.Cmd, _ bool) error {
	if cmd.Process == nil {
		return nil
	}
	return cmd.Process.Kill()
}

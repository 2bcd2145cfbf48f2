package supervisor

import (
	"fmt"
	"os"
)

// File modes of what a supervisor keeps for its workers. A worker's config may carry
// secrets, its certificates do, and its log may show data: only the supervisor's user
// (who runs the workers) may read them.
const (
	privateDirMode  os.FileMode = 0o700
	privateFileMode os.FileMode = 0o600
	// privateExecMode is an artifact's: executable, by the supervisor's user only.
	privateExecMode os.FileMode = 0o700
)

// makePrivateDir creates dir (and its missing parents) with mode 0700, and tightens it
// to 0700 if it already existed with another mode (as an older supervisor left it).
// Use it for every directory under the data directory that holds worker files.
func makePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, privateDirMode); err != nil {
		return err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if st.Mode().Perm() != privateDirMode {
		return os.Chmod(dir, privateDirMode)
	}
	return nil
}

// writePrivateFile writes a file of mode 0600 atomically (readers never see half of
// it). Use it for every worker file that the supervisor writes: config, assignment,
// certificates and keys.
func writePrivateFile(path string, data []byte) error {
	return writeFileAtomic(path, data, privateFileMode)
}

package generic

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sparsestream/sparse/python"
)

// ExtractPythonClient writes the bundled Python client (sparse_multilang and streamparse) into
// a new temporary folder and returns it; remove it when the topology has stopped.
func ExtractPythonClient() (string, error) {
	dir, err := os.MkdirTemp("", "sparse-python-")
	if err != nil {
		return "", fmt.Errorf("making a folder for the bundled Python client: %w", err)
	}
	err = fs.WalkDir(python.Client, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(path))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := fs.ReadFile(python.Client, path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("writing the bundled Python client: %w", err)
	}
	return dir, nil
}

// pythonPath is the PYTHONPATH entry for shell components: the environment's
// PYTHONPATH, then the bundled client, which thus wins over a sparse_multilang
// installed with pip and always matches the engine. A copy in the resources folder wins
// over both: Python looks in the script's folder first.
func pythonPath(clientDir string) string {
	parts := []string{}
	if cur := os.Getenv("PYTHONPATH"); cur != "" {
		parts = append(parts, cur)
	}
	parts = append(parts, clientDir)
	return "PYTHONPATH=" + strings.Join(parts, string(os.PathListSeparator))
}

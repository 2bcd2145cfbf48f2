package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// BundleSpecName is the name of the spec in a folder or a bundle.
const BundleSpecName = "topology.yaml"

// IsSpecPath reports whether a command-line argument names a spec rather than a Go
// package or binary: a file ending in .yaml or .yml, or a folder holding topology.yaml.
func IsSpecPath(arg string) bool {
	switch strings.ToLower(filepath.Ext(arg)) {
	case ".yaml", ".yml":
		return true
	}
	st, err := os.Stat(filepath.Join(arg, BundleSpecName))
	return err == nil && st.Mode().IsRegular()
}

// Find returns the spec file a path names: the path itself, or the topology.yaml of a
// folder.
func Find(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("spec %s: no such file or folder; pass a topology.yaml or the folder that holds it", path)
	}
	if !st.IsDir() {
		return path, nil
	}
	p := filepath.Join(path, BundleSpecName)
	if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
		return "", fmt.Errorf("spec: the folder %s holds no %s; pass the spec file itself", path, BundleSpecName)
	}
	return p, nil
}

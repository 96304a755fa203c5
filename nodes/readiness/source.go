package readiness

import (
	"os"
	"path/filepath"
	"strings"
)

// sources are the contents of the non-test Go files of dir.
func sources(root, dir string) [][]byte {
	entries, err := os.ReadDir(filepath.Join(root, dir))
	if err != nil {
		return nil
	}
	var out [][]byte
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			if b, err := os.ReadFile(filepath.Join(root, dir, n)); err == nil {
				out = append(out, b)
			}
		}
	}
	return out
}

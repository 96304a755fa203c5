package readiness

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
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

// parseDir parses the non-test Go files of dir (relative to root).
func parseDir(root, dir string, mode parser.Mode) (*token.FileSet, []*ast.File, error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(filepath.Join(root, dir))
	if err != nil {
		return nil, nil, fmt.Errorf("could not read package %s: %w", dir, err)
	}
	var files []*ast.File
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.ToSlash(filepath.Join(dir, n)), readFile(filepath.Join(root, dir, n)), mode)
		if err != nil {
			return nil, nil, fmt.Errorf("could not parse %s: %w", filepath.Join(dir, n), err)
		}
		files = append(files, f)
	}
	return fset, files, nil
}

func readFile(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}

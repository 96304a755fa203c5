package contract

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ModulePath is the module whose nodes the contracts describe.
const ModulePath = "github.com/omninode/omnibase-infra"

// ErrNoModule is returned by FindRoot outside a checkout of the module.
var ErrNoModule = errors.New("not inside a checkout of " + ModulePath)

// FindRoot walks up from dir to the directory whose go.mod declares ModulePath.
func FindRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("could not resolve %s: %w", dir, err)
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			first, _, _ := bytes.Cut(data, []byte("\n"))
			if strings.TrimSpace(string(first)) == "module "+ModulePath {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNoModule
		}
		dir = parent
	}
}

// Discover lists the node.yaml files under root, relative to it and sorted, leaving out tests/,
// testdata and hidden directories.
func Discover(root string) ([]string, error) {
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			name := d.Name()
			if rel != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" || rel == "tests") {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() == FileName {
			found = append(found, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("could not look for node contracts under %s: %w", root, err)
	}
	slices.Sort(found)
	return found, nil
}

// LoadAll loads the contracts at paths (relative to root, and named so in their problems).
// Every contract that parses is returned, with the problems of those that did not.
func LoadAll(root string, paths []string) ([]*Contract, Problems) {
	var cs []*Contract
	var ps Problems
	for _, p := range paths {
		data, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			ps = append(ps, Problem{File: p, Line: 1, Message: fmt.Sprintf("could not read: %v", err)})
			continue
		}
		c, err := Parse(p, data)
		var perr Problems
		if errors.As(err, &perr) {
			ps = append(ps, perr...)
		}
		if c != nil {
			cs = append(cs, c)
		}
	}
	return cs, ps
}

// CheckTree checks what the contract says about the files under the module root: its package
// directory holds Go code, the contract sits in it, and an orchestrator's workflow contract
// exists. c.File is taken relative to root.
func (c *Contract) CheckTree(root string) Problems {
	var ps Problems
	if c.Package == "" {
		return nil
	}
	dir := filepath.Join(root, filepath.FromSlash(c.Package))
	matches, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	if len(matches) == 0 {
		ps = append(ps, Problem{c.File, c.Line("package"), fmt.Sprintf("package %s holds no Go files under %s", c.Package, root)})
	}
	if filepath.ToSlash(filepath.Dir(c.File)) != c.Package && !filepath.IsAbs(c.File) {
		ps = append(ps, Problem{c.File, c.Line("package"), fmt.Sprintf("the contract of package %s belongs in %s/%s", c.Package, c.Package, FileName)})
	}
	if c.Workflows != "" {
		if _, err := os.Stat(c.WorkflowsPath(root)); err != nil {
			ps = append(ps, Problem{c.File, c.Line("workflows"), fmt.Sprintf("workflow contract %s: %v", c.Workflows, err)})
		}
	}
	return ps
}

// WorkflowsPath is where the orchestrator's workflow contract is, beside the contract.
func (c *Contract) WorkflowsPath(root string) string {
	return filepath.Join(root, filepath.FromSlash(c.Package), filepath.FromSlash(c.Workflows))
}

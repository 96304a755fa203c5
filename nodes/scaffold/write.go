package scaffold

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Apply writes the plan's changes under root: new files, and files whose contents change. A
// plan whose every change is unchanged writes nothing.
func (p Plan) Apply(root string) error {
	for _, c := range p.Changes {
		if c.Action() == "unchanged" {
			continue
		}
		path := filepath.Join(root, filepath.FromSlash(c.Path))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("could not make the directory of %s: %w", c.Path, err)
		}
		if err := writeFile(path, c.New); err != nil {
			return fmt.Errorf("could not write %s: %w", c.Path, err)
		}
	}
	return nil
}

// writeFile replaces path with data through a temporary file, so a file is never half written.
func writeFile(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".scaffold-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone after the rename; removes what a failure left
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Changed reports whether applying the plan would change anything.
func (p Plan) Changed() bool {
	for _, c := range p.Changes {
		if c.Action() != "unchanged" {
			return true
		}
	}
	return false
}

// Diff is the unified diff of the change: of the old contents against the new for a file that
// exists, of nothing against the new for a new one; empty when unchanged.
func (c Change) Diff() string {
	if c.Action() == "unchanged" {
		return ""
	}
	from := "a/" + c.Path
	if c.Old == nil {
		from = "/dev/null"
	}
	return unified(lines(string(c.Old)), lines(string(c.New)), from, "b/"+c.Path)
}

// Summary lines the plan's changes, one per file: "create handlers/redis/node.yaml".
func (p Plan) Summary() string {
	var b strings.Builder
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "%-9s %s\n", c.Action(), c.Path)
	}
	return b.String()
}

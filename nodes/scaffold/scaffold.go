// Package scaffold generates new nodes: a package per node with its contract (node.yaml), code
// that implements its kind's interfaces, unit tests, an integration test on the suite's
// containers, a README section and its registration in the composition root, each inserted at a
// marker comment. Templates are embedded; Go output is formatted. Plan computes every change
// and writes nothing; Apply writes a plan. omni scaffold is its command line.
package scaffold

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"go/format"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"

	"github.com/omninode/omnibase-infra/nodes/contract"
	"github.com/omninode/omnibase-infra/nodes/scaffold/names"
)

//go:embed templates
var templates embed.FS

// Module is the import path of the module the scaffold writes into.
const Module = contract.ModulePath

// ErrExists is wrapped by the refusal of a node, package or file that exists.
var ErrExists = errors.New("exists")

// reserved are the package names the generated files import: a node of that name would shadow
// them.
var reserved = []string{"app", "containers", "context", "effect", "errors", "events", "fmt", "infrastate",
	"integration", "maps", "net", "outbox", "postgres", "require", "sagas", "slices", "slog", "strings",
	"syscall", "testing", "time"}

// Request is one scaffold.
type Request struct {
	// Root is the module root (where go.mod is). Required.
	Root string
	// Kind of node. Required.
	Kind Kind
	// Name of the node, in any spelling names.Parse takes. Required.
	Name string
	// Force overwrites the node's files that exist with other contents. Without it, Plan refuses.
	Force bool
}

// Change is one file the scaffold writes.
type Change struct {
	// Path relative to the module root, with "/".
	Path string
	// Old is the file's contents now; nil for a new file.
	Old []byte
	// New is what the scaffold writes.
	New []byte
}

// Action says what a change does: create, overwrite (a node file, with --force), modify (a
// marker's insertion) or unchanged.
func (c Change) Action() string {
	switch {
	case c.Old == nil:
		return "create"
	case bytes.Equal(c.Old, c.New):
		return "unchanged"
	default:
		return "modify"
	}
}

// Plan is every change of one scaffold.
type Plan struct {
	Kind Kind
	// Name is the node's contract name (kebab-case); Dir its package directory.
	Name, Dir string
	Changes   []Change
}

// data is what the templates see.
type data struct {
	Module, Kind, Name, Snake, Pascal, Camel, Package, Title, File, Dir, Topic, Article, Env string
	ReadmeBody                                                                               string
}

// Plan computes the changes of r. It refuses an unknown kind, an invalid name, a name that
// shadows a package the node imports, a node of that name elsewhere, a package that exists and
// is not this node, and (without Force) a file of the node that exists with other contents.
func (r Request) Plan() (Plan, error) {
	sp, ok := specs[r.Kind]
	if !ok {
		_, err := ParseKind(string(r.Kind))
		return Plan{}, err
	}
	n, err := names.Parse(r.Name)
	if err != nil {
		return Plan{}, err
	}
	if slices.Contains(reserved, n.Package()) {
		return Plan{}, fmt.Errorf("%w %q: its package name %q is one the generated code imports", names.ErrInvalid, r.Name, n.Package())
	}
	d := data{Module: Module, Kind: string(r.Kind), Name: n.Kebab(), Snake: n.Snake(), Pascal: n.Pascal(), Camel: n.Camel(),
		Package: n.Package(), Title: n.Title(), File: n.File(), Dir: sp.parent + "/" + n.Package(),
		Topic: n.Topic("infra.commands."), Article: sp.article, Env: contract.EnvFor("--" + n.Kebab() + "-target")}
	if d.ReadmeBody, err = expand("readme", sp.readme, d); err != nil {
		return Plan{}, err
	}
	if err := r.checkExisting(d); err != nil {
		return Plan{}, err
	}
	p := Plan{Kind: r.Kind, Name: d.Name, Dir: d.Dir}
	for _, f := range sp.files {
		c, err := r.render(f, d)
		if err != nil {
			return Plan{}, err
		}
		p.Changes = append(p.Changes, c)
	}
	modified, err := r.edits(d)
	if err != nil {
		return Plan{}, err
	}
	p.Changes = append(p.Changes, modified...)
	return p, nil
}

// checkExisting refuses a node whose name another node has, or whose package exists without
// being this node.
func (r Request) checkExisting(d data) error {
	dir := filepath.Join(r.Root, filepath.FromSlash(d.Dir))
	if _, err := os.Stat(dir); err == nil {
		contract, err := os.ReadFile(filepath.Join(dir, "node.yaml"))
		if err != nil || !slices.Contains(strings.Split(string(contract), "\n"), "name: "+d.Name) ||
			!slices.Contains(strings.Split(string(contract), "\n"), "kind: "+d.Kind) {
			return fmt.Errorf("package %s %w and is not the %s node %s: choose another name", d.Dir, ErrExists, d.Kind, d.Name)
		}
	}
	return filepath.WalkDir(r.Root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && (e.Name() == ".git" || e.Name() == "testdata" || e.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if e.IsDir() || e.Name() != "node.yaml" || filepath.Dir(path) == dir {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if slices.Contains(strings.Split(string(b), "\n"), "name: "+d.Name) {
			rel, _ := filepath.Rel(r.Root, filepath.Dir(path))
			return fmt.Errorf("a node named %s %w in %s: choose another name", d.Name, ErrExists, filepath.ToSlash(rel))
		}
		return nil
	})
}

// render makes one file of the node.
func (r Request) render(f file, d data) (Change, error) {
	path, err := expand(f.path, f.path, d)
	if err != nil {
		return Change{}, err
	}
	text, err := templates.ReadFile("templates/" + f.template)
	if err != nil {
		return Change{}, fmt.Errorf("template %s: %w", f.template, err)
	}
	out, err := expand(f.template, string(text), d)
	if err != nil {
		return Change{}, err
	}
	content := []byte(out)
	if strings.HasSuffix(path, ".go") {
		if content, err = format.Source(content); err != nil {
			return Change{}, fmt.Errorf("template %s makes Go that does not parse: %w", f.template, err)
		}
	}
	if strings.HasSuffix(path, "/"+contract.FileName) {
		c, err := contract.Parse(path, content)
		if err == nil {
			err = c.Validate().Err()
		}
		if err != nil {
			return Change{}, fmt.Errorf("template %s makes a contract that does not validate: %w", f.template, err)
		}
	}
	c := Change{Path: path, New: content}
	old, err := os.ReadFile(filepath.Join(r.Root, filepath.FromSlash(path)))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return Change{}, fmt.Errorf("could not read %s: %w", path, err)
	case !bytes.Equal(old, content) && !r.Force:
		return Change{}, fmt.Errorf("%s %w with other contents: give --force to overwrite it", path, ErrExists)
	default:
		c.Old = old
	}
	return c, nil
}

// edits inserts the node's lines at the markers of the files that register it, each once.
func (r Request) edits(d data) ([]Change, error) {
	var order []string
	changed := map[string]*Change{}
	load := func(path string) (*Change, error) {
		if c, ok := changed[path]; ok {
			return c, nil
		}
		b, err := os.ReadFile(filepath.Join(r.Root, filepath.FromSlash(path)))
		if err != nil {
			return nil, fmt.Errorf("could not read %s, where the node is registered: %w", path, err)
		}
		c := &Change{Path: path, Old: b, New: b}
		changed[path], order = c, append(order, path)
		return c, nil
	}
	for _, e := range edits {
		if len(e.kinds) > 0 && !slices.Contains(e.kinds, r.Kind) {
			continue
		}
		c, err := load(e.path)
		if err != nil {
			return nil, err
		}
		line, err := expand(e.path, e.line, d)
		if err != nil {
			return nil, err
		}
		key := ""
		if e.key != "" {
			if key, err = expand(e.path, e.key, d); err != nil {
				return nil, err
			}
		}
		if c.New, err = insert(c.New, e.marker, line, key, e.path); err != nil {
			return nil, err
		}
	}
	c, err := load("README.md")
	if err != nil {
		return nil, err
	}
	section, err := expand("readme", mustRead("templates/shared/readme.md.tmpl"), d)
	if err != nil {
		return nil, err
	}
	if c.New, err = insertBlock(c.New, MarkerReadme, section, "## "+d.Title+" node", "README.md"); err != nil {
		return nil, err
	}
	var out []Change
	for _, path := range order {
		c := changed[path]
		if strings.HasSuffix(path, ".go") && !bytes.Equal(c.Old, c.New) {
			formatted, err := format.Source(c.New)
			if err != nil {
				return nil, fmt.Errorf("%s does not parse after the node's lines were inserted: %w", path, err)
			}
			c.New = formatted
		}
		out = append(out, *c)
	}
	return out, nil
}

func expand(name, text string, d data) (string, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return "", fmt.Errorf("template %s: %w", name, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("template %s: %w", name, err)
	}
	return b.String(), nil
}

func mustRead(path string) string {
	b, err := templates.ReadFile(path)
	if err != nil {
		panic(fmt.Sprintf("scaffold: embedded template %s is missing: %v", path, err)) // a build mistake
	}
	return string(b)
}

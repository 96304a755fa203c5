package readiness

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/omninode/omnibase-infra/nodes/contract"
)

// ModulePath is the import path of the module readiness reads.
const ModulePath = "github.com/omninode/omnibase-infra"

// EventsDir is the package directory of the message vocabulary.
const EventsDir = "events"

// EffectRunner is the package directory of the runner every effect node runs in: the commands it
// accepts for every driver (probe_target and the control commands) and the events it records are
// the effect node's too.
const EffectRunner = "handlers/effect"

// Catalog is what the events package declares, read from its source: each message type's Go
// name and kind, which are commands, which declare sensitive fields, and the fields of each.
type Catalog struct {
	// Kinds maps a Go type name to its kind, for the types with a Kind method.
	Kinds map[string]contract.MessageRef
	// Commands are the Go names of types with an Addressee method.
	Commands map[string]bool
	// Sensitive are the Go names of types with a SensitiveFields method.
	Sensitive map[string]bool
	// Fields are each struct's JSON field names, embedded structs' included, but for fields of
	// types that cannot hold a secret (numbers, booleans, times).
	Fields map[string][]string
	// Pos is where each type is declared.
	Pos map[string]Pos
}

// Pos is a place in a file, relative to the module root.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// GoName is the Go type name of ref, "" when the catalog has none.
func (c *Catalog) GoName(ref contract.MessageRef) string {
	for name, r := range c.Kinds {
		if r == ref && !strings.HasSuffix(name, "V"+strconv.Itoa(ref.Version)) {
			return name
		}
	}
	for name, r := range c.Kinds {
		if r == ref {
			return name
		}
	}
	return ""
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

var jsonName = regexp.MustCompile(`json:"([^",]*)`)

// ScanCatalog reads the events package under root.
func ScanCatalog(root string) (*Catalog, error) {
	fset, files, err := parseDir(root, EventsDir, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	c := &Catalog{Kinds: map[string]contract.MessageRef{}, Commands: map[string]bool{}, Sensitive: map[string]bool{},
		Fields: map[string][]string{}, Pos: map[string]Pos{}}
	embeds := map[string][]string{}
	for _, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				for _, s := range d.Specs {
					ts, ok := s.(*ast.TypeSpec)
					if !ok {
						continue
					}
					p := fset.Position(ts.Pos())
					c.Pos[ts.Name.Name] = Pos{p.Filename, p.Line}
					st, ok := ts.Type.(*ast.StructType)
					if !ok {
						continue
					}
					for _, fl := range st.Fields.List {
						if len(fl.Names) == 0 {
							if id, ok := fl.Type.(*ast.Ident); ok {
								embeds[ts.Name.Name] = append(embeds[ts.Name.Name], id.Name)
							}
							continue
						}
						if fl.Tag != nil && !plainType(fl.Type) {
							if m := jsonName.FindStringSubmatch(fl.Tag.Value); m != nil && m[1] != "-" {
								c.Fields[ts.Name.Name] = append(c.Fields[ts.Name.Name], m[1])
							}
						}
					}
				}
			case *ast.FuncDecl:
				recv := receiverName(d)
				if recv == "" {
					continue
				}
				switch d.Name.Name {
				case "Addressee":
					c.Commands[recv] = true
				case "SensitiveFields":
					c.Sensitive[recv] = true
				case "Kind":
					if ref, ok := kindOf(d); ok {
						c.Kinds[recv] = ref
					}
				}
			}
		}
	}
	for t, es := range embeds {
		for _, e := range es {
			c.Fields[t] = append(c.Fields[t], c.Fields[e]...)
		}
	}
	return c, nil
}

func receiverName(d *ast.FuncDecl) string {
	if d.Recv == nil || len(d.Recv.List) != 1 {
		return ""
	}
	t := d.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

// kindOf reads `return Kind{Name: "x", Version: 1}`.
func kindOf(d *ast.FuncDecl) (contract.MessageRef, bool) {
	if d.Body == nil || len(d.Body.List) != 1 {
		return contract.MessageRef{}, false
	}
	ret, ok := d.Body.List[0].(*ast.ReturnStmt)
	if !ok || len(ret.Results) != 1 {
		return contract.MessageRef{}, false
	}
	lit, ok := ret.Results[0].(*ast.CompositeLit)
	if !ok {
		return contract.MessageRef{}, false
	}
	var ref contract.MessageRef
	for _, e := range lit.Elts {
		kv, ok := e.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		k, _ := kv.Key.(*ast.Ident)
		v, _ := kv.Value.(*ast.BasicLit)
		if k == nil || v == nil {
			continue
		}
		switch k.Name {
		case "Name":
			ref.Type, _ = strconv.Unquote(v.Value)
		case "Version":
			ref.Version, _ = strconv.Atoi(v.Value)
		}
	}
	return ref, ref.Type != "" && ref.Version > 0
}

// Code is what a node's Go source does with messages, each kind with the first place seen.
type Code struct {
	// Accepts are the commands it takes: prototypes (an empty literal events.T{}) of command types.
	Accepts map[contract.MessageRef]Pos
	// Reads are the types it decodes and branches on: type-switch cases and type assertions.
	Reads map[contract.MessageRef]Pos
	// Emits are the messages it builds to publish: a literal with fields, or events.NewIntent[T].
	Emits map[contract.MessageRef]Pos
}

// ScanCode reads the non-test Go files of the package directories dirs (relative to root).
func ScanCode(root string, cat *Catalog, dirs ...string) (Code, error) {
	code := Code{Accepts: map[contract.MessageRef]Pos{}, Reads: map[contract.MessageRef]Pos{}, Emits: map[contract.MessageRef]Pos{}}
	for _, dir := range dirs {
		fset, files, err := parseDir(root, dir, parser.SkipObjectResolution)
		if err != nil {
			return code, err
		}
		for _, f := range files {
			alias := importName(f, ModulePath+"/"+EventsDir)
			if alias == "" {
				continue
			}
			ref := func(e ast.Expr) (contract.MessageRef, string, bool) {
				sel, ok := e.(*ast.SelectorExpr)
				if !ok {
					return contract.MessageRef{}, "", false
				}
				if id, ok := sel.X.(*ast.Ident); !ok || id.Name != alias {
					return contract.MessageRef{}, "", false
				}
				r, ok := cat.Kinds[sel.Sel.Name]
				return r, sel.Sel.Name, ok
			}
			add := func(m map[contract.MessageRef]Pos, r contract.MessageRef, at token.Pos) {
				if _, seen := m[r]; !seen {
					p := fset.Position(at)
					m[r] = Pos{p.Filename, p.Line}
				}
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CompositeLit:
					if r, name, ok := ref(n.Type); ok {
						switch {
						case len(n.Elts) == 0 && cat.Commands[name]:
							add(code.Accepts, r, n.Pos())
						case len(n.Elts) > 0:
							add(code.Emits, r, n.Pos())
						}
					}
				case *ast.IndexExpr: // events.NewIntent[events.T](…)
					if sel, ok := n.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "NewIntent" {
						if r, _, ok := ref(n.Index); ok {
							add(code.Emits, r, n.Pos())
						}
					}
				case *ast.TypeAssertExpr:
					if r, _, ok := ref(n.Type); ok {
						add(code.Reads, r, n.Pos())
					}
				case *ast.TypeSwitchStmt:
					for _, cc := range n.Body.List {
						for _, e := range cc.(*ast.CaseClause).List {
							if r, _, ok := ref(e); ok {
								add(code.Reads, r, e.Pos())
							}
						}
					}
				}
				return true
			})
		}
	}
	return code, nil
}

// importName is the name file f uses for the package at path, "" when it does not import it.
func importName(f *ast.File, path string) string {
	for _, im := range f.Imports {
		if p, _ := strconv.Unquote(im.Path.Value); p == path {
			if im.Name != nil {
				return im.Name.Name
			}
			return path[strings.LastIndex(path, "/")+1:]
		}
	}
	return ""
}

// imports reports where the non-test files of dir import path, if any.
func imports(root, dir, path string) (Pos, bool) {
	fset, files, err := parseDir(root, dir, parser.ImportsOnly)
	if err != nil {
		return Pos{}, false
	}
	for _, f := range files {
		for _, im := range f.Imports {
			if p, _ := strconv.Unquote(im.Path.Value); p == path || strings.HasPrefix(p, path+"/") {
				pos := fset.Position(im.Pos())
				return Pos{pos.Filename, pos.Line}, true
			}
		}
	}
	return Pos{}, false
}

// codeDirs are the package directories whose code is the node's: its own, and for an effect node
// the runner's.
func codeDirs(c *contract.Contract) []string {
	dirs := []string{c.Package}
	if c.Kind == contract.Effect && c.Package != EffectRunner {
		dirs = append(dirs, EffectRunner)
	}
	return slices.Compact(dirs)
}

// plainType reports whether a field of type t cannot hold a secret: a number, a boolean, a time
// or a duration.
func plainType(t ast.Expr) bool {
	switch t := t.(type) {
	case *ast.Ident:
		switch t.Name {
		case "bool", "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
			return true
		}
	case *ast.SelectorExpr:
		if x, ok := t.X.(*ast.Ident); ok && x.Name == "time" {
			return true
		}
	}
	return false
}

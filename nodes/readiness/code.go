package readiness

import (
	"go/ast"
	"go/parser"
	"go/token"
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
// declaresMethod reports whether the package in dir declares a method called name.
func declaresMethod(root, dir, name string) (bool, error) {
	_, files, err := parseDir(root, dir, parser.SkipObjectResolution)
	if err != nil {
		return false, err
	}
	for _, f := range files {
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv != nil && fn.Name.Name == name {
				return true, nil
			}
		}
	}
	return false, nil
}

func codeDirs(c *contract.Contract) []string {
	dirs := []string{c.Package}
	if c.Kind == contract.Effect && c.Package != EffectRunner {
		dirs = append(dirs, EffectRunner)
	}
	return slices.Compact(dirs)
}

package readiness

import (
	"fmt"
	"go/ast"
	"go/parser"
	"regexp"
	"strconv"
	"strings"

	"github.com/omninode/omnibase-infra/nodes/contract"
)

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

package readiness

import (
	"fmt"
	"go/ast"
	"go/parser"
	"os"
	"path/filepath"
	"strings"
)

// ReadmeFile is the README the documentation rules read, at the module root.
const ReadmeFile = "README.md"

type readme struct {
	err      error
	headings map[string]int // heading line (with its #s) → line number
	text     string         // whitespace collapsed to single spaces
}

func readReadme(root string) *readme {
	r := &readme{headings: map[string]int{}}
	data, err := os.ReadFile(filepath.Join(root, ReadmeFile))
	if err != nil {
		r.err = err
		return r
	}
	fenced := false
	for i, l := range strings.Split(string(data), "\n") {
		t := strings.TrimRight(l, " \t\r")
		if strings.HasPrefix(t, "```") {
			fenced = !fenced
		}
		if !fenced && strings.HasPrefix(t, "#") {
			if _, seen := r.headings[t]; !seen {
				r.headings[t] = i + 1
			}
		}
	}
	r.text = strings.Join(strings.Fields(string(data)), " ")
	return r
}

func probeReadmeSection(s *subject) []Finding {
	if s.c.Readme == "" {
		return []Finding{fail(s.at("readme"), "document the node in a README section and name its heading in readme:", "the contract names no README section")}
	}
	if s.readme.err != nil {
		return []Finding{fail(ReadmeFile+":1", "write "+ReadmeFile, "no README: %v", s.readme.err)}
	}
	if l, ok := s.readme.headings[s.c.Readme]; ok {
		return []Finding{pass(fmt.Sprintf("%s:%d", ReadmeFile, l), "section %q", s.c.Readme)}
	}
	return []Finding{fail(s.at("readme"), "add the section "+s.c.Readme+" to "+ReadmeFile+", or name the heading that documents the node",
		"%s has no section %q", ReadmeFile, s.c.Readme)}
}

func probeCommandExamples(s *subject) []Finding {
	if len(s.c.Commands) == 0 {
		return []Finding{skip(s.at("commands"), "takes no commands")}
	}
	if s.readme.err != nil {
		return []Finding{fail(ReadmeFile+":1", "write "+ReadmeFile, "no README: %v", s.readme.err)}
	}
	var fs []Finding
	for i, c := range s.c.Commands {
		ex := strings.Join(strings.Fields(c.Example), " ")
		switch {
		case ex == "":
			fs = append(fs, fail(s.at("commands", i), "give the command an example: and show it in "+ReadmeFile, "command %s has no example", c.Ref()))
		case !strings.Contains(s.readme.text, ex):
			fs = append(fs, fail(s.at("commands", i, "example"), "show the example in the node's section of "+ReadmeFile,
				"the example of %s is not in %s", c.Ref(), ReadmeFile))
		}
	}
	if len(fs) == 0 {
		fs = append(fs, pass(s.at("commands"), "%d commands, each with its example in %s", len(s.c.Commands), ReadmeFile))
	}
	return fs
}

// maxListed is how many failing places one rule lists before it counts the rest.
const maxListed = 10

func probeDocComments(s *subject) []Finding {
	fset, files, err := parseDir(s.cfg.Root, s.c.Package, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return []Finding{fail(s.at("package"), "make the package parse", "%v", err)}
	}
	var missing []Finding
	miss := func(n ast.Node, what string) {
		p := fset.Position(n.Pos())
		missing = append(missing, fail(Pos{p.Filename, p.Line}.String(), "write a doc comment that starts with the name and says why",
			"exported %s has no doc comment", what))
	}
	exported := 0
	for _, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				name := d.Name.Name
				if recv := receiverName(d); recv != "" {
					if !ast.IsExported(recv) {
						continue
					}
					name = recv + "." + name
				} else if d.Recv != nil {
					continue
				}
				exported++
				if d.Doc == nil {
					miss(d, name)
				}
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					var names []*ast.Ident
					var doc *ast.CommentGroup
					switch sp := sp.(type) {
					case *ast.TypeSpec:
						names, doc = []*ast.Ident{sp.Name}, sp.Doc
					case *ast.ValueSpec:
						names, doc = sp.Names, sp.Doc
						if doc == nil {
							doc = sp.Comment
						}
					}
					for _, n := range names {
						if !n.IsExported() {
							continue
						}
						exported++
						if doc == nil && d.Doc == nil {
							miss(n, n.Name)
						}
					}
				}
			}
		}
	}
	if len(missing) == 0 {
		return []Finding{pass(s.at("package"), "all %d exported names of %s have doc comments", exported, s.c.Package)}
	}
	if len(missing) > maxListed {
		rest := len(missing) - maxListed
		missing = append(missing[:maxListed], fail(s.at("package"), "write their doc comments (go doc shows which)",
			"and %d more exported names of %s without a doc comment", rest, s.c.Package))
	}
	return missing
}

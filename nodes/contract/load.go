package contract

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Load reads and parses the contract at path. A file that cannot be read is an error; a file
// that is not a contract's YAML is Problems naming each line. Load does not validate: call
// Validate on what it returns.
func Load(path string) (*Contract, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("could not read contract: %w", err)
	}
	return Parse(path, data)
}

// Parse parses a contract from data, named file in its problems. Keys the schema does not know
// and values of the wrong shape are Problems, each with its line.
func Parse(file string, data []byte) (*Contract, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, Problems{yamlProblem(file, err)}
	}
	c := &Contract{File: file, lines: map[string]int{}}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, Problems{{File: file, Line: root.Line, Message: "a contract is a mapping of name, kind, version, …"}}
	}
	var ps Problems
	walk(file, root, nil, schema, c.lines, &ps)
	if err := root.Decode(c); err != nil {
		// A shape walk already named is not named again by the decoder.
		for _, p := range decodeProblems(file, err) {
			if !slices.ContainsFunc(ps, func(q Problem) bool { return q.Line == p.Line }) {
				ps = append(ps, p)
			}
		}
	}
	if len(ps) > 0 {
		return c, ps
	}
	return c, nil
}

// shape is what the schema allows at one place: a mapping's keys, a sequence's items, or a
// scalar (nil).
type shape struct {
	keys  map[string]*shape
	list  bool
	items *shape
}

var (
	scalar      *shape
	scalars     = &shape{list: true, items: scalar}
	messageRefs = &shape{list: true, items: &shape{keys: map[string]*shape{"type": scalar, "version": scalar}}}
	streams     = &shape{list: true, items: &shape{keys: map[string]*shape{"topic": scalar, "messages": messageRefs}}}
	schema      = &shape{keys: map[string]*shape{
		"name": scalar, "kind": scalar, "version": scalar, "description": scalar, "package": scalar,
		"workflows": scalar, "consumes": streams, "produces": streams,
		"commands": {list: true, items: &shape{keys: map[string]*shape{
			"type": scalar, "version": scalar, "description": scalar, "example": scalar}}},
		"dependencies":  {keys: map[string]*shape{"systems": scalars, "nodes": scalars}},
		"configuration": {list: true, items: &shape{keys: map[string]*shape{"flag": scalar, "env": scalar, "description": scalar}}},
		"health":        {keys: map[string]*shape{"probe": scalar, "description": scalar}},
		"metrics":       scalars,
		"performance":   {list: true, items: &shape{keys: map[string]*shape{"figure": scalar, "min": scalar, "max": scalar}}},
		"readme":        scalar,
		"exemptions":    {list: true, items: &shape{keys: map[string]*shape{"rule": scalar, "reason": scalar, "expires": scalar}}},
	}}
)

// walk records the line of every value by its path and reports keys and shapes the schema does
// not allow.
func walk(file string, n *yaml.Node, path []any, s *shape, lines map[string]int, ps *Problems) {
	lines[key(path)] = n.Line
	if n.Kind == yaml.AliasNode && n.Alias != nil { // *control: the anchor's value, at the alias's line
		n = n.Alias
	}
	where := key(path)
	if where == "" {
		where = "the contract"
	}
	switch {
	case n.Tag == "!!null" && s != nil:
		// An empty list or mapping ("consumes:") is as good as none.
	case s == nil:
		if n.Kind != yaml.ScalarNode {
			*ps = append(*ps, Problem{file, n.Line, fmt.Sprintf("%s must be a single value", where)})
		}
	case s.keys != nil:
		if n.Kind != yaml.MappingNode {
			*ps = append(*ps, Problem{file, n.Line, fmt.Sprintf("%s must be a mapping", where)})
			return
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			sub, ok := s.keys[k.Value]
			if !ok {
				*ps = append(*ps, Problem{file, k.Line, fmt.Sprintf("unknown key %q in %s", k.Value, where)})
				continue
			}
			if seen[k.Value] {
				*ps = append(*ps, Problem{file, k.Line, fmt.Sprintf("key %q given twice in %s", k.Value, where)})
			}
			seen[k.Value] = true
			walk(file, v, append(path, k.Value), sub, lines, ps)
		}
	case s.list:
		if n.Kind != yaml.SequenceNode {
			*ps = append(*ps, Problem{file, n.Line, fmt.Sprintf("%s must be a list", where)})
			return
		}
		for i, item := range n.Content {
			walk(file, item, append(path, i), s.items, lines, ps)
		}
	}
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func yamlProblem(file string, err error) Problem {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		l, _ := strconv.Atoi(m[1])
		return Problem{file, l, m[2]}
	}
	return Problem{file, 1, err.Error()}
}

func decodeProblems(file string, err error) Problems {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return Problems{yamlProblem(file, err)}
	}
	var ps Problems
	for _, e := range te.Errors {
		ps = append(ps, yamlProblem(file, errors.New(e)))
	}
	return ps
}

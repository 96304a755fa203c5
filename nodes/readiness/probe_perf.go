package readiness

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// benchFile is bench-results.json as tests/bench writes it: figures keyed by name, each
// {"value", "unit"}, beside "commit", "ran_at", "machine" and "passed".
type benchFile struct {
	path    string // relative to the root when under it
	err     error
	commit  string
	figures map[string]float64
	lines   map[string]int
}

func readBench(path, root string) *benchFile {
	b := &benchFile{path: path, figures: map[string]float64{}, lines: map[string]int{}}
	if rel, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(rel, "..") {
		b.path = filepath.ToSlash(rel)
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b.err = fmt.Errorf("%s does not exist", b.path)
		return b
	}
	if err != nil {
		b.err = err
		return b
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		b.err = fmt.Errorf("not a bench-results.json: %w", err)
		return b
	}
	_ = json.Unmarshal(raw["commit"], &b.commit)
	for k, v := range raw {
		var fig struct {
			Value *float64 `json:"value"`
		}
		if json.Unmarshal(v, &fig) == nil && fig.Value != nil {
			b.figures[k] = *fig.Value
			b.lines[k] = 1 + bytes.Count(data[:max(0, bytes.Index(data, []byte(`"`+k+`"`)))], []byte("\n"))
		}
	}
	b.lines["commit"] = 1 + bytes.Count(data[:max(0, bytes.Index(data, []byte(`"commit"`)))], []byte("\n"))
	return b
}

func (b *benchFile) at(key string) string {
	if l, ok := b.lines[key]; ok {
		return fmt.Sprintf("%s:%d", b.path, l)
	}
	return b.path + ":1"
}

const benchRemedy = "run make bench, which writes every figure to bench-results.json at the module root"

func probeTargetsDeclared(s *subject) []Finding {
	if len(s.c.Performance) == 0 {
		return []Finding{fail(s.at("performance"), "add performance targets on figures of make bench (bench-results.json keys) to "+s.file,
			"the contract ties the node to no benchmark figure")}
	}
	return []Finding{pass(s.at("performance"), "%d targets", len(s.c.Performance))}
}

func probeFiguresExist(s *subject) []Finding {
	if len(s.c.Performance) == 0 {
		return []Finding{skip(s.at("performance"), "no targets")}
	}
	if s.bench.err != nil {
		return []Finding{fail(s.bench.path+":1", benchRemedy, "no figures: %v", s.bench.err)}
	}
	var fs []Finding
	for i, t := range s.c.Performance {
		if _, ok := s.bench.figures[t.Figure]; ok {
			fs = append(fs, pass(s.bench.at(t.Figure), "%s measured", t.Figure))
		} else {
			fs = append(fs, fail(s.at("performance", i, "figure"), benchRemedy+" (its benchmark must record "+t.Figure+")",
				"%s has no figure %s", s.bench.path, t.Figure))
		}
	}
	return fs
}

func probeFiguresFresh(s *subject) []Finding {
	if len(s.c.Performance) == 0 {
		return []Finding{skip(s.at("performance"), "no targets")}
	}
	if s.bench.err != nil {
		return []Finding{fail(s.bench.path+":1", benchRemedy, "no figures: %v", s.bench.err)}
	}
	cur := s.cfg.Commit
	switch {
	case s.bench.commit == cur && !strings.HasSuffix(cur, "-dirty") && cur != "unknown":
		return []Finding{pass(s.bench.at("commit"), "measured at %s, the current commit", cur)}
	default:
		return []Finding{fail(s.bench.at("commit"), benchRemedy+" on a clean tree at the current commit",
			"the figures were measured at %s, the tree is at %s", orNone(s.bench.commit), cur)}
	}
}

func orNone(s string) string {
	if s == "" {
		return "no commit"
	}
	return s
}

func probeTargetsMet(s *subject) []Finding {
	if len(s.c.Performance) == 0 {
		return []Finding{skip(s.at("performance"), "no targets")}
	}
	if s.bench.err != nil {
		return []Finding{fail(s.bench.path+":1", benchRemedy, "no figures: %v", s.bench.err)}
	}
	var fs []Finding
	for i, t := range s.c.Performance {
		v, ok := s.bench.figures[t.Figure]
		switch {
		case !ok:
			fs = append(fs, fail(s.at("performance", i), benchRemedy, "%s was not measured", t.Figure))
		case t.Meets(v):
			fs = append(fs, pass(s.bench.at(t.Figure), "%s = %g meets %s", t.Figure, v, t))
		default:
			fs = append(fs, fail(s.bench.at(t.Figure), "make the node meet "+t.String()+" (the target is at "+s.at("performance", i)+")",
				"%s = %g misses its target %s", t.Figure, v, t))
		}
	}
	return fs
}

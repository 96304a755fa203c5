package readiness

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/omninode/omnibase-infra/nodes/contract"
)

// CommandLine is the package directory whose string literals name the flags (cmd/omni).
const CommandLine = "cmd/omni"

func probeExists(s *subject) []Finding {
	if s.c == nil {
		return []Finding{fail(s.file+":1", "write "+s.file+" to the schema of nodes/contract (omni scaffold writes one for a new node)",
			"package %s has no %s", s.pkg, contract.FileName)}
	}
	return []Finding{pass(s.at(), "%s is the contract of %s", s.file, s.c.Name)}
}

func probeValidates(s *subject) []Finding {
	var fs []Finding
	for _, p := range append(s.problems, s.c.CheckTree(s.cfg.Root)...) {
		fs = append(fs, fail(fmt.Sprintf("%s:%d", p.File, p.Line), "fix the contract: omni contract validate "+s.file, "%s", p.Message))
	}
	for i, e := range s.c.Exemptions {
		if e.Rule != "" && !slices.Contains(RuleIDs(), e.Rule) {
			fs = append(fs, fail(s.at("exemptions", i, "rule"), "name one of the rules of omni readiness (README: Nodes: contracts and readiness)",
				"exemption from %q: there is no such rule", e.Rule))
		}
	}
	if s.c.Workflows != "" {
		if err := s.cfg.CheckWorkflows(s.c.WorkflowsPath(s.cfg.Root)); err != nil {
			rel := filepath.ToSlash(filepath.Join(s.c.Package, s.c.Workflows))
			fs = append(fs, fail(rel+":1", "fix the workflow contract: omni contract validate "+rel, "%s",
				strings.ReplaceAll(err.Error(), s.c.WorkflowsPath(s.cfg.Root), rel)))
		}
	}
	if len(fs) == 0 {
		fs = append(fs, pass(s.at(), "valid"))
	}
	return fs
}

func probeMatchesCode(s *subject) []Finding {
	if s.catErr != nil {
		return []Finding{fail(EventsDir+":1", "make the events package parse", "could not read the message catalog: %v", s.catErr)}
	}
	return MatchCode(s.cfg.Root, s.c, s.cat)
}

// MatchCode holds contract c against the Go source under root (read with go/parser): the
// commands it lists are those the code accepts; every message it says it consumes the code
// branches on (or, for an orchestrator, its workflow contract routes); every message the code
// branches on and does not emit itself is consumed; the messages it produces are those the code
// builds; every flag is bound in cmd/omni or the node's code. Each mismatch is a failing finding
// naming the place in the contract or the code.
func MatchCode(root string, c *contract.Contract, cat *Catalog) []Finding {
	code, err := ScanCode(root, cat, codeDirs(c)...)
	if err != nil {
		return []Finding{fail(c.Where("package"), "make the package parse", "could not read the code: %v", err)}
	}
	if c.Kind == contract.Effect && c.Package != EffectRunner {
		// The runner accepts initialize_target only for a driver that is an effect.Initializer.
		init, err := declaresMethod(root, c.Package, "Initialize")
		if err != nil {
			return []Finding{fail(c.Where("package"), "make the package parse", "could not read the code: %v", err)}
		}
		if ref, ok := cat.Kinds["InitializeTarget"]; ok && !init {
			delete(code.Accepts, ref)
			delete(code.Reads, ref)
		}
	}
	var fs []Finding
	remedyContract := "change " + c.File + " to say what the code does, or the code to do what the contract says"

	// Commands: exactly what the code accepts.
	listed := map[contract.MessageRef]bool{}
	for i, cmd := range c.Commands {
		listed[cmd.Ref()] = true
		if _, ok := code.Accepts[cmd.Ref()]; !ok {
			fs = append(fs, fail(c.Where("commands", i), remedyContract, "command %s is listed, but the code accepts no such command", cmd.Ref()))
		}
	}
	for _, ref := range sortedRefs(code.Accepts) {
		if !listed[ref] {
			fs = append(fs, fail(code.Accepts[ref].String(), remedyContract+" (add it to commands and consumes)",
				"the code accepts command %s, which the contract does not list", ref))
		}
	}

	// Consumes: each read by the code (or routed by the workflows); each read listed.
	routed := routes(root, c, cat)
	consumed := map[contract.MessageRef]bool{}
	for i, st := range c.Consumes {
		for j, m := range st.Messages {
			consumed[m] = true
			_, read := code.Reads[m]
			_, accepted := code.Accepts[m]
			if !read && !accepted && !routed[m] {
				fs = append(fs, fail(c.Where("consumes", i, "messages", j), remedyContract,
					"consumes %s from %s, but the code neither branches on it nor takes it", m, st.Topic))
			}
		}
	}
	for _, ref := range sortedRefs(code.Reads) {
		if _, own := code.Emits[ref]; own || consumed[ref] {
			continue
		}
		if _, ok := code.Accepts[ref]; ok {
			continue
		}
		fs = append(fs, fail(code.Reads[ref].String(), remedyContract+" (add it to consumes)",
			"the code branches on %s, which the contract does not consume", ref))
	}
	for ref := range routed {
		if !consumed[ref] {
			fs = append(fs, fail(c.Where("workflows"), remedyContract+" (add it to consumes)",
				"the workflow contract routes %s, which the contract does not consume", ref))
		}
	}

	// Produces: exactly what the code builds.
	produced := map[contract.MessageRef]bool{}
	for i, st := range c.Produces {
		for j, m := range st.Messages {
			produced[m] = true
			if _, ok := code.Emits[m]; !ok {
				fs = append(fs, fail(c.Where("produces", i, "messages", j), remedyContract,
					"produces %s on %s, but the code builds no such message", m, st.Topic))
			}
		}
	}
	for _, ref := range sortedRefs(code.Emits) {
		if !produced[ref] {
			fs = append(fs, fail(code.Emits[ref].String(), remedyContract+" (add it to produces)",
				"the code emits %s, which the contract does not produce", ref))
		}
	}

	// Configuration: every flag bound somewhere.
	lits := stringLiterals(root, append([]string{CommandLine}, codeDirs(c)...)...)
	for i, st := range c.Configuration {
		if !lits[strings.TrimLeft(st.Flag, "-")] {
			fs = append(fs, fail(c.Where("configuration", i, "flag"), "bind the flag in cmd/omni, or drop it from the contract",
				"flag %s is bound nowhere in %s or the node's code", st.Flag, CommandLine))
		}
	}
	if len(fs) == 0 {
		fs = append(fs, pass(c.Where(), "%d commands, %d messages consumed, %d produced and %d flags match the code",
			len(c.Commands), len(consumed), len(produced), len(c.Configuration)))
	}
	return fs
}

// routes are the intents an orchestrator's workflow contract routes, at their current version.
func routes(root string, c *contract.Contract, cat *Catalog) map[contract.MessageRef]bool {
	out := map[contract.MessageRef]bool{}
	if c.Workflows == "" {
		return out
	}
	data, err := os.ReadFile(c.WorkflowsPath(root))
	if err != nil {
		return out
	}
	var wc struct {
		Routes map[string]string `yaml:"routes"`
	}
	if yaml.Unmarshal(data, &wc) != nil {
		return out
	}
	for name := range wc.Routes {
		best := contract.MessageRef{}
		for _, r := range cat.Kinds {
			if r.Type == name && r.Version > best.Version {
				best = r
			}
		}
		if best.Version > 0 {
			out[best] = true
		}
	}
	return out
}

func sortedRefs(m map[contract.MessageRef]Pos) []contract.MessageRef {
	out := make([]contract.MessageRef, 0, len(m))
	for r := range m {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b contract.MessageRef) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// stringLiterals are the string constants of the non-test files of dirs.
func stringLiterals(root string, dirs ...string) map[string]bool {
	out := map[string]bool{}
	for _, dir := range dirs {
		_, files, err := parseDir(root, dir, parser.SkipObjectResolution)
		if err != nil {
			continue
		}
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				if l, ok := n.(*ast.BasicLit); ok && l.Kind == token.STRING {
					if v, err := strconv.Unquote(l.Value); err == nil {
						out[v] = true
					}
				}
				return true
			})
		}
	}
	return out
}

package readiness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/omninode/omnibase-infra/nodes/contract"
	"github.com/omninode/omnibase-infra/sagas"
)

// Config says what to grade against.
type Config struct {
	// Root is the module checkout. Required.
	Root string
	// Now decides which exemptions have expired. Default: time.Now().
	Now time.Time
	// Commit is the commit the tree is at, which fresh figures were measured at. Default: git's
	// HEAD of Root, with "-dirty" when the tree has changes ("unknown" without git).
	Commit string
	// BenchResults is the figures file. Default: bench-results.json at Root.
	BenchResults string
	// CoverProfile is a `go test -coverprofile` file; testing.coverage is skipped without one.
	// Optional.
	CoverProfile string
	// MinCoverage is the statement coverage, in percent, testing.coverage asks of a node's
	// package. Default 60.
	MinCoverage float64
	// CheckWorkflows validates an orchestrator's workflow contract at path. Default: the
	// engine's own check (sagas.LoadContract); cmd/omni may pass one that knows more workflows.
	CheckWorkflows func(path string) error
}

func (c *Config) setDefaults() {
	if c.Now.IsZero() {
		c.Now = time.Now()
	}
	if c.BenchResults == "" {
		c.BenchResults = filepath.Join(c.Root, "bench-results.json")
	}
	if c.MinCoverage == 0 {
		c.MinCoverage = 60
	}
	if c.Commit == "" {
		c.Commit = CommitOf(c.Root)
	}
	if c.CheckWorkflows == nil {
		c.CheckWorkflows = func(path string) error {
			_, err := sagas.LoadContract(path)
			return err
		}
	}
}

// Validate reports every problem of the config.
func (c *Config) Validate() error {
	var errs []error
	if c.Root == "" {
		errs = append(errs, errors.New("root is required: the module checkout"))
	} else if _, err := os.Stat(filepath.Join(c.Root, "go.mod")); err != nil {
		errs = append(errs, fmt.Errorf("root %s is not a module checkout: %w", c.Root, err))
	}
	if c.MinCoverage < 0 || c.MinCoverage > 100 {
		errs = append(errs, fmt.Errorf("min coverage %g is not a percentage", c.MinCoverage))
	}
	return errors.Join(errs...)
}

// CommitOf is HEAD of the repository holding dir, with "-dirty" when its tree has changes
// (untracked files count: they are compiled into what is measured), "unknown" without git. It is
// what tests/bench writes into bench-results.json and what freshness is judged against.
func CommitOf(dir string) string {
	head, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	commit := strings.TrimSpace(string(head))
	status, err := exec.Command("git", "-C", dir, "status", "--porcelain").Output()
	if err != nil || len(strings.TrimSpace(string(status))) > 0 {
		commit += "-dirty"
	}
	return commit
}

// ErrUnknownNode is wrapped by Assess's error for a node it cannot find.
var ErrUnknownNode = errors.New("unknown node")

// subject is one node being graded and what every probe reads about it.
type subject struct {
	cfg      *Config
	c        *contract.Contract // nil when the package has no contract
	pkg      string
	file     string // the contract's path, relative to the root
	problems contract.Problems
	all      []*contract.Contract
	cat      *Catalog
	catErr   error
	bench    *benchFile
	readme   *readme
}

// Assess grades the nodes named (by contract name or package directory; every node with a
// contract when none is named), in the order named, or by contract path.
func Assess(cfg Config, nodes ...string) ([]Report, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	paths, err := contract.Discover(cfg.Root)
	if err != nil {
		return nil, err
	}
	all, problems := contract.LoadAll(cfg.Root, paths)
	problems = append(problems, contract.ValidateSet(all)...)
	cat, catErr := ScanCatalog(cfg.Root)
	bench := readBench(cfg.BenchResults, cfg.Root)
	rd := readReadme(cfg.Root)

	var subjects []*subject
	mk := func(c *contract.Contract, pkg string) *subject {
		s := &subject{cfg: &cfg, c: c, pkg: pkg, all: all, cat: cat, catErr: catErr, bench: bench, readme: rd}
		s.file = filepath.ToSlash(filepath.Join(pkg, contract.FileName))
		if c != nil {
			s.file = c.File
			for _, p := range problems {
				if p.File == c.File {
					s.problems = append(s.problems, p)
				}
			}
		}
		return s
	}
	if len(nodes) == 0 {
		for _, c := range all {
			subjects = append(subjects, mk(c, c.Package))
		}
	}
	for _, n := range nodes {
		i := slices.IndexFunc(all, func(c *contract.Contract) bool {
			return c.Name == n || c.Package == filepath.ToSlash(filepath.Clean(n))
		})
		switch {
		case i >= 0:
			subjects = append(subjects, mk(all[i], all[i].Package))
		case isPackageDir(cfg.Root, n):
			subjects = append(subjects, mk(nil, filepath.ToSlash(filepath.Clean(n))))
		default:
			names := make([]string, len(all))
			for i, c := range all {
				names[i] = c.Name
			}
			return nil, fmt.Errorf("%w %q: neither a node's name (%s) nor a package directory under %s",
				ErrUnknownNode, n, strings.Join(names, ", "), cfg.Root)
		}
	}
	reports := make([]Report, 0, len(subjects))
	for _, s := range subjects {
		reports = append(reports, s.assess())
	}
	return reports, nil
}

func isPackageDir(root, dir string) bool {
	m, _ := filepath.Glob(filepath.Join(root, filepath.FromSlash(dir), "*.go"))
	return len(m) > 0 && !filepath.IsAbs(dir)
}

func (s *subject) assess() Report {
	r := Report{Package: s.pkg, Contract: s.file, Node: s.pkg}
	if s.c != nil {
		r.Node, r.Kind = s.c.Name, string(s.c.Kind)
	}
	var results []RuleResult
	for _, rule := range Rules() {
		rr := RuleResult{Rule: rule.ID, Level: rule.Level}
		if s.c == nil && rule.ID != "contract.exists" {
			rr.Findings = []Finding{{Rule: rule.ID, Outcome: Fail, Location: s.file + ":1", Message: "not probed: the node has no contract",
				Remediation: "write " + s.file + " (omni scaffold writes one for a new node)"}}
		} else {
			rr.Findings = rule.probe(s)
		}
		rr.Findings = s.exempt(rule.ID, rr.Findings)
		for i := range rr.Findings {
			rr.Findings[i].Rule = rule.ID
		}
		rr.Outcome = outcomeOf(rr.Findings)
		results = append(results, rr)
	}
	r.Dimensions = grade(results)
	r.Level = lowest(r.Dimensions)
	return r
}

// exempt applies the contract's exemption of rule to its failing findings: while it counts they
// become exempt; once expired they stay failing, with a finding saying so at the exemption.
func (s *subject) exempt(rule string, fs []Finding) []Finding {
	if s.c == nil || outcomeOf(fs) != Fail {
		return fs
	}
	for i, e := range s.c.Exemptions {
		if e.Rule != rule {
			continue
		}
		where := s.c.Where("exemptions", i)
		if !e.Active(s.cfg.Now) {
			return append(fs, Finding{Outcome: Fail, Location: where,
				Message:     fmt.Sprintf("exemption expired on %s (%s): it no longer counts", e.Expires, e.Reason),
				Remediation: "fix what the findings above say, or renew the exemption with a new reason and date"})
		}
		for j := range fs {
			if fs[j].Outcome == Fail {
				fs[j].Outcome = Exempt
				fs[j].Message += fmt.Sprintf(" (exempt until %s at %s: %s)", e.Expires, where, e.Reason)
			}
		}
	}
	return fs
}

func outcomeOf(fs []Finding) Outcome {
	out := Skip
	for _, f := range fs {
		switch f.Outcome {
		case Fail:
			return Fail
		case Exempt:
			out = Exempt
		case Pass:
			if out == Skip {
				out = Pass
			}
		}
	}
	return out
}

// at is "file:line" of path in the contract.
func (s *subject) at(path ...any) string { return s.c.Where(path...) }

func pass(loc, format string, args ...any) Finding {
	return Finding{Outcome: Pass, Location: loc, Message: fmt.Sprintf(format, args...)}
}

func fail(loc, remedy, format string, args ...any) Finding {
	return Finding{Outcome: Fail, Location: loc, Message: fmt.Sprintf(format, args...), Remediation: remedy}
}

func skip(loc, format string, args ...any) Finding {
	return Finding{Outcome: Skip, Location: loc, Message: fmt.Sprintf(format, args...)}
}

// Package readiness grades nodes NOT_READY < DEVELOPMENT < STAGING < PRODUCTION. Probes read the
// module's source offline (go/parser, the contracts, the README, bench-results.json, a coverage
// profile) and produce findings — an outcome, a place as file:line, a remedy; each rule's
// findings give the rule's outcome; a dimension holds the highest level whose rules (and those
// of the levels below) all pass; a node holds the lowest level of its dimensions.
package readiness

import (
	"fmt"
	"strings"
)

// Level is how ready a node is.
type Level int

// The levels, lowest first. A node holds a level only when it passes every rule of that level
// and of the levels below it.
const (
	NotReady Level = iota
	Development
	Staging
	Production
)

var levelNames = []string{"NOT_READY", "DEVELOPMENT", "STAGING", "PRODUCTION"}

// Levels lists the levels, lowest first.
func Levels() []Level { return []Level{NotReady, Development, Staging, Production} }

func (l Level) String() string {
	if l < NotReady || l > Production {
		return fmt.Sprintf("Level(%d)", int(l))
	}
	return levelNames[l]
}

// ParseLevel reads a level by name, in any case.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if strings.EqualFold(s, n) {
			return Level(i), nil
		}
	}
	return NotReady, fmt.Errorf("level %q is none of %s", s, strings.Join(levelNames, ", "))
}

// MarshalText writes the level's name.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads a level's name.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	*l = v
	return err
}

// Outcome is what a probe found, or what a rule came to.
type Outcome string

// The outcomes. Pass, exempt and skip let a rule through; fail holds the node below the rule's
// level.
const (
	Pass Outcome = "pass"
	Fail Outcome = "fail"
	// Exempt: failed, but the contract excuses the node from the rule until a date not yet past.
	Exempt Outcome = "exempt"
	// Skip: the rule does not apply to the node (a driver suite for a reducer, coverage without
	// a profile).
	Skip Outcome = "skip"
)

// Finding is one thing a probe saw.
type Finding struct {
	Rule    string  `json:"rule"`
	Outcome Outcome `json:"outcome"`
	// Location is file:line, relative to the module root.
	Location string `json:"location"`
	Message  string `json:"message"`
	// Remediation says how to make a failing finding pass.
	Remediation string `json:"remediation,omitempty"`
}

func (f Finding) String() string {
	s := fmt.Sprintf("%s %s: %s", f.Location, f.Rule, f.Message)
	if f.Remediation != "" && f.Outcome == Fail {
		s += " — " + f.Remediation
	}
	return s
}

// RuleResult is one rule's outcome for a node and the findings it came from.
type RuleResult struct {
	Rule     string    `json:"rule"`
	Level    Level     `json:"level"`
	Outcome  Outcome   `json:"outcome"`
	Findings []Finding `json:"findings"`
}

// Verdict is one dimension of a node: the level it holds there and its rules.
type Verdict struct {
	Dimension string       `json:"dimension"`
	Level     Level        `json:"level"`
	Rules     []RuleResult `json:"rules"`
}

// Report is a node's grade.
type Report struct {
	Node     string `json:"node"`
	Kind     string `json:"kind"`
	Package  string `json:"package"`
	Contract string `json:"contract_file"`
	// Level is the lowest level of its dimensions.
	Level      Level     `json:"level"`
	Dimensions []Verdict `json:"dimensions"`
}

// Dimension returns the verdict of dimension d.
func (r Report) Dimension(d string) Verdict {
	for _, v := range r.Dimensions {
		if v.Dimension == d {
			return v
		}
	}
	return Verdict{Dimension: d}
}

// Levels are the level of each dimension, by name.
func (r Report) Levels() map[string]Level {
	m := map[string]Level{}
	for _, v := range r.Dimensions {
		m[v.Dimension] = v.Level
	}
	return m
}

// Failing are the findings that hold the node back, in rule order.
func (r Report) Failing() []Finding {
	var out []Finding
	for _, v := range r.Dimensions {
		for _, rr := range v.Rules {
			for _, f := range rr.Findings {
				if f.Outcome == Fail {
					out = append(out, f)
				}
			}
		}
	}
	return out
}

// grade gives each dimension the highest level whose rules, and those of every level below,
// pass; the node holds the lowest.
func grade(results []RuleResult) []Verdict {
	var vs []Verdict
	for _, d := range Dimensions() {
		v := Verdict{Dimension: d, Level: Production}
		for _, rr := range results {
			if dimensionOf(rr.Rule) != d {
				continue
			}
			v.Rules = append(v.Rules, rr)
			if rr.Outcome == Fail && rr.Level-1 < v.Level {
				v.Level = rr.Level - 1
			}
		}
		vs = append(vs, v)
	}
	return vs
}

func lowest(vs []Verdict) Level {
	l := Production
	for _, v := range vs {
		l = min(l, v.Level)
	}
	return l
}

func dimensionOf(rule string) string {
	d, _, _ := strings.Cut(rule, ".")
	return d
}

package contract

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

var (
	kebab    = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	snake    = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	semver   = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$`)
	flagName = regexp.MustCompile(`^--[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	metric   = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	topic    = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
	ruleID   = regexp.MustCompile(`^([a-z]+)\.[a-z][a-z0-9_]*$`)
)

// Validate checks the contract on its own and returns every problem, each with its file and
// line. What needs other files (the package directory, the README, other nodes) is checked by
// ValidateSet and by `omni readiness`.
func (c *Contract) Validate() Problems {
	v := &validator{c: c}
	v.required("name", c.Name)
	if c.Name != "" && !kebab.MatchString(c.Name) {
		v.at("name")("name %q is not kebab-case (lower-case words joined by '-')", c.Name)
	}
	v.required("kind", string(c.Kind))
	if c.Kind != "" && !slices.Contains(Kinds(), c.Kind) {
		v.at("kind")("kind %q is none of effect, compute, reducer, orchestrator", c.Kind)
	}
	v.required("version", c.Version)
	if c.Version != "" && !semver.MatchString(c.Version) {
		v.at("version")("version %q is not a semantic version (MAJOR.MINOR.PATCH)", c.Version)
	}
	v.required("description", c.Description)
	v.required("package", c.Package)
	if c.Package != "" && (path.IsAbs(c.Package) || path.Clean(c.Package) != c.Package || strings.HasPrefix(c.Package, "..")) {
		v.at("package")("package %q must be a clean directory relative to the module root (handlers/postgres)", c.Package)
	}
	switch {
	case c.Kind == Orchestrator && c.Workflows == "":
		v.at("workflows")("an orchestrator names its workflow contract: workflows: contract.yaml")
	case c.Kind != Orchestrator && c.Workflows != "":
		v.at("workflows")("workflows is for orchestrators only; this node is %s", c.Kind)
	}
	v.streams("consumes", c.Consumes)
	v.streams("produces", c.Produces)
	v.commands()
	v.dependencies()
	v.configuration()
	if c.Health.Probe == "" {
		v.at("health", "probe")("health.probe is required: the command or probe that checks the node, or \"none\"")
	}
	v.names("metrics", c.Metrics, metric, "a Prometheus metric name")
	v.performance()
	if c.Readme != "" && !strings.HasPrefix(c.Readme, "#") {
		v.at("readme")("readme %q must be a README heading, with its #s (\"## PostgreSQL adapter\")", c.Readme)
	}
	v.exemptions()
	return v.ps
}

// ValidateSet checks what holds across contracts: names unique, every node a contract depends on
// known, and each contract valid on its own.
func ValidateSet(cs []*Contract) Problems {
	var ps Problems
	byName := map[string]*Contract{}
	for _, c := range cs {
		ps = append(ps, c.Validate()...)
		if first, ok := byName[c.Name]; ok && c.Name != "" {
			ps = append(ps, Problem{c.File, c.Line("name"), fmt.Sprintf("name %q is taken by %s", c.Name, first.Where("name"))})
			continue
		}
		byName[c.Name] = c
	}
	for _, c := range cs {
		for i, n := range c.Dependencies.Nodes {
			if _, ok := byName[n]; !ok {
				ps = append(ps, Problem{c.File, c.Line("dependencies", "nodes", i), fmt.Sprintf("depends on node %q, which has no contract", n)})
			}
		}
	}
	return ps
}

type validator struct {
	c  *Contract
	ps Problems
}

// at returns a reporter of problems at path.
func (v *validator) at(path ...any) func(format string, args ...any) {
	return func(format string, args ...any) {
		v.ps = append(v.ps, Problem{v.c.File, v.c.Line(path...), fmt.Sprintf(format, args...)})
	}
}

func (v *validator) required(key, value string) {
	if value == "" {
		v.at(key)("%s is required", key)
	}
}

func (v *validator) names(key string, values []string, re *regexp.Regexp, what string) {
	seen := map[string]bool{}
	for i, n := range values {
		switch {
		case !re.MatchString(n):
			v.at(key, i)("%s[%d] %q is not %s", key, i, n, what)
		case seen[n]:
			v.at(key, i)("%s[%d] %q is listed twice", key, i, n)
		}
		seen[n] = true
	}
}

func (v *validator) ref(m MessageRef, path ...any) {
	if !snake.MatchString(m.Type) {
		v.at(append(path, "type")...)("message type %q is not snake_case", m.Type)
	}
	if m.Version < 1 {
		v.at(append(path, "version")...)("message %q needs a version of 1 or more", m.Type)
	}
}

func (v *validator) streams(key string, ss []Stream) {
	topics := map[string]bool{}
	for i, s := range ss {
		switch {
		case s.Topic == "":
			v.at(key, i, "topic")("%s[%d] needs a topic", key, i)
		case !topic.MatchString(s.Topic):
			v.at(key, i, "topic")("topic %q is not a Kafka topic name", s.Topic)
		case topics[s.Topic]:
			v.at(key, i, "topic")("topic %q is listed twice in %s: merge its messages", s.Topic, key)
		}
		topics[s.Topic] = true
		if len(s.Messages) == 0 {
			v.at(key, i, "messages")("%s topic %q lists no messages", key, s.Topic)
		}
		seen := map[MessageRef]bool{}
		for j, m := range s.Messages {
			v.ref(m, key, i, "messages", j)
			if seen[m] {
				v.at(key, i, "messages", j)("message %s is listed twice on %q", m, s.Topic)
			}
			seen[m] = true
		}
	}
}

func (v *validator) commands() {
	c := v.c
	if len(c.Commands) > 0 && c.Kind != Effect && slices.Contains(Kinds(), c.Kind) {
		v.at("commands")("only effect nodes accept commands; this node is %s", c.Kind)
	}
	consumed := map[MessageRef]bool{}
	for _, s := range c.Consumes {
		for _, m := range s.Messages {
			consumed[m] = true
		}
	}
	seen := map[MessageRef]bool{}
	for i, cmd := range c.Commands {
		v.ref(cmd.Ref(), "commands", i)
		if cmd.Description == "" {
			v.at("commands", i)("command %s needs a description", cmd.Ref())
		}
		if seen[cmd.Ref()] {
			v.at("commands", i)("command %s is listed twice", cmd.Ref())
		}
		seen[cmd.Ref()] = true
		if !consumed[cmd.Ref()] {
			v.at("commands", i)("command %s is consumed from no topic: add it to consumes", cmd.Ref())
		}
	}
}

func (v *validator) dependencies() {
	c := v.c
	for i, s := range c.Dependencies.Systems {
		if !slices.Contains(Systems(), s) {
			v.at("dependencies", "systems", i)("system %q is none of %s", s, strings.Join(Systems(), ", "))
		}
	}
	if c.Kind == Compute && len(c.Dependencies.Systems) > 0 {
		v.at("dependencies", "systems")("a compute node is a pure transformation: it depends on no system")
	}
	seen := map[string]bool{}
	for i, n := range c.Dependencies.Nodes {
		switch {
		case !kebab.MatchString(n):
			v.at("dependencies", "nodes", i)("node %q is not a node name (kebab-case)", n)
		case n == c.Name:
			v.at("dependencies", "nodes", i)("a node does not depend on itself")
		case seen[n]:
			v.at("dependencies", "nodes", i)("node %q is listed twice", n)
		}
		seen[n] = true
	}
}

func (v *validator) configuration() {
	seen := map[string]bool{}
	for i, s := range v.c.Configuration {
		switch {
		case !flagName.MatchString(s.Flag):
			v.at("configuration", i, "flag")("flag %q is not a long flag (--kebab-case)", s.Flag)
		case seen[s.Flag]:
			v.at("configuration", i, "flag")("flag %s is listed twice", s.Flag)
		case s.Env != EnvFor(s.Flag):
			v.at("configuration", i, "env")("flag %s is read from %s, not %q", s.Flag, EnvFor(s.Flag), s.Env)
		}
		seen[s.Flag] = true
		if s.Description == "" {
			v.at("configuration", i)("flag %s needs a description", s.Flag)
		}
	}
}

func (v *validator) performance() {
	seen := map[string]bool{}
	for i, t := range v.c.Performance {
		switch {
		case !snake.MatchString(t.Figure):
			v.at("performance", i, "figure")("figure %q is not a bench-results.json key (snake_case)", t.Figure)
		case seen[t.Figure]:
			v.at("performance", i, "figure")("figure %s is listed twice: give min and max in one entry", t.Figure)
		}
		seen[t.Figure] = true
		switch {
		case t.Min == nil && t.Max == nil:
			v.at("performance", i)("target %s gives neither min nor max", t.Figure)
		case t.Min != nil && t.Max != nil && *t.Min > *t.Max:
			v.at("performance", i)("target %s has min %g above max %g", t.Figure, *t.Min, *t.Max)
		}
	}
}

func (v *validator) exemptions() {
	seen := map[string]bool{}
	for i, e := range v.c.Exemptions {
		m := ruleID.FindStringSubmatch(e.Rule)
		switch {
		case m == nil:
			v.at("exemptions", i, "rule")("rule %q is not a readiness rule id (<dimension>.<rule>)", e.Rule)
		case !slices.Contains(Dimensions(), m[1]):
			v.at("exemptions", i, "rule")("rule %q is of no dimension: %s", e.Rule, strings.Join(Dimensions(), ", "))
		case seen[e.Rule]:
			v.at("exemptions", i, "rule")("rule %s is exempted twice", e.Rule)
		}
		seen[e.Rule] = true
		if strings.TrimSpace(e.Reason) == "" {
			v.at("exemptions", i)("exemption from %s needs a reason", e.Rule)
		}
		if _, err := e.ExpiresAt(); err != nil {
			v.at("exemptions", i, "expires")("exemption from %s: %v", e.Rule, err)
		}
	}
}

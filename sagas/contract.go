// Package sagas is the orchestrator: workflows run as sagas reacting to intents, declared in a
// contract, with their instances persisted in PostgreSQL.
package sagas

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/omninode/omnibase-infra/events"
)

//go:embed contract.yaml
var defaultContract []byte

// DefaultStepTimeout is how long a step waits for its replies when the contract gives no timeout.
const DefaultStepTimeout = 30 * time.Second

// EndStep as a step's next finishes the workflow.
const EndStep = "end"

// Contract declares the workflows and which intent starts which.
type Contract struct {
	// Routes maps an intent's name to the workflow it starts.
	Routes map[string]string
	// Workflows by name.
	Workflows map[string]WorkflowSpec
}

// WorkflowSpec is one workflow as the contract declares it.
type WorkflowSpec struct {
	Name string
	// Escalate: after the compensations, the saga ends escalated and publishes its escalation.
	Escalate bool
	Steps    []StepSpec
}

// StepSpec is one step as the contract declares it.
type StepSpec struct {
	Name    string
	Timeout time.Duration
	// Retry: how many times in all the step is tried when it fails, and the wait between tries.
	Retry Repeat
	// Poll: how many times in all the step asks, and the wait between asks, until it confirms.
	Poll Repeat
	// Compensation names what undoes the step; empty when nothing needs undoing.
	Compensation string
	// Next is the step after this one; "" means the one below it, EndStep the end.
	Next string
	Line int
}

// Repeat is a number of tries and the wait between them.
type Repeat struct {
	Attempts int
	Wait     time.Duration
}

// index returns the position of step name, or -1.
func (w WorkflowSpec) index(name string) int {
	return slices.IndexFunc(w.Steps, func(s StepSpec) bool { return s.Name == name })
}

// next returns the index of the step after step i, or -1 at the end.
func (w WorkflowSpec) next(i int) int {
	switch n := w.Steps[i].Next; n {
	case "":
		if i+1 < len(w.Steps) {
			return i + 1
		}
		return -1
	case EndStep:
		return -1
	default:
		return w.index(n)
	}
}

// DefaultContract returns the contract built into the binary (sagas/contract.yaml).
func DefaultContract() (Contract, error) { return ParseContract("contract.yaml", defaultContract) }

// DefaultContractYAML is the text of the built-in contract.
func DefaultContractYAML() []byte { return slices.Clone(defaultContract) }

// LoadContract reads a contract file; an empty path means the default contract.
func LoadContract(path string) (Contract, error) {
	if path == "" {
		return DefaultContract()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Contract{}, fmt.Errorf("could not read contract: %w", err)
	}
	return ParseContract(path, data)
}

// ParseContract parses and validates a contract against the workflows this engine implements.
// Every problem is reported, each with its line.
func ParseContract(name string, data []byte) (Contract, error) {
	return ParseContractFor(name, data, Workflows())
}

// ParseContractFor is ParseContract against the workflows defs: a scaffolded orchestrator's
// contract names its own workflows, which are not this engine's.
func ParseContractFor(name string, data []byte, defs map[string]Workflow) (Contract, error) {
	var root yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&root); err != nil {
		return Contract{}, fmt.Errorf("contract %s: %w", name, err)
	}
	p := &parser{name: name, defs: defs}
	c := p.contract(&root)
	if err := errors.Join(p.errs...); err != nil {
		return Contract{}, err
	}
	return c, nil
}

// Route returns the workflow an intent starts.
func (c Contract) Route(intent string) (string, bool) {
	w, ok := c.Routes[intent]
	return w, ok
}

type parser struct {
	name string
	defs map[string]Workflow
	errs []error
}

func (p *parser) at(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("contract %s:%d: %s", p.name, n.Line, fmt.Sprintf(format, args...)))
}

// mapping calls fn for each key of n, a mapping, reporting keys given twice and keys not in known
// (when known is not nil).
func (p *parser) mapping(n *yaml.Node, what string, known []string, fn func(key, val *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		p.at(n, "%s must be a mapping", what)
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if first, ok := seen[key.Value]; ok {
			p.at(key, "%s: %q given twice (first on line %d)", what, key.Value, first)
			continue
		}
		seen[key.Value] = key.Line
		if known != nil && !slices.Contains(known, key.Value) {
			p.at(key, "%s: unknown field %q (known: %v)", what, key.Value, known)
			continue
		}
		fn(key, val)
	}
}

func (p *parser) contract(root *yaml.Node) Contract {
	c := Contract{Routes: map[string]string{}, Workflows: map[string]WorkflowSpec{}}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		p.errs = append(p.errs, fmt.Errorf("contract %s: empty", p.name))
		return c
	}
	var routes, workflows *yaml.Node
	p.mapping(root.Content[0], "contract", []string{"routes", "workflows"}, func(key, val *yaml.Node) {
		if key.Value == "routes" {
			routes = val
		} else {
			workflows = val
		}
	})
	if workflows == nil {
		p.errs = append(p.errs, fmt.Errorf("contract %s: missing \"workflows\"", p.name))
	} else {
		defs := p.defs
		p.mapping(workflows, "workflows", nil, func(key, val *yaml.Node) {
			def, ok := defs[key.Value]
			if !ok {
				p.at(key, "unknown workflow %q (this engine runs: %v)", key.Value, sortedKeys(defs))
				return
			}
			c.Workflows[key.Value] = p.workflow(key.Value, def, val)
		})
	}
	if routes == nil {
		p.errs = append(p.errs, fmt.Errorf("contract %s: missing \"routes\"", p.name))
		return c
	}
	var intents []string
	for _, in := range events.Intents() {
		intents = append(intents, in.Kind().Name)
	}
	p.mapping(routes, "routes", nil, func(key, val *yaml.Node) {
		if !slices.Contains(intents, key.Value) {
			p.at(key, "route for unknown intent %q (intents: %v)", key.Value, intents)
		}
		if _, ok := c.Workflows[val.Value]; !ok {
			p.at(val, "route %q names unknown workflow %q", key.Value, val.Value)
		}
		c.Routes[key.Value] = val.Value
	})
	return c
}

func (p *parser) workflow(name string, def Workflow, n *yaml.Node) WorkflowSpec {
	w := WorkflowSpec{Name: name}
	var steps *yaml.Node
	p.mapping(n, "workflow "+name, []string{"steps", "on_failure"}, func(key, val *yaml.Node) {
		switch key.Value {
		case "steps":
			steps = val
		case "on_failure":
			if val.Value != "escalate" {
				p.at(val, "workflow %q: on_failure is %q, the only choice is \"escalate\"", name, val.Value)
			}
			w.Escalate = true
		}
	})
	if steps == nil || steps.Kind != yaml.SequenceNode || len(steps.Content) == 0 {
		p.at(n, "workflow %q has no steps", name)
		return w
	}
	for _, s := range steps.Content {
		step := p.step(name, def, s)
		if step.Name == "" {
			continue
		}
		if i := w.index(step.Name); i >= 0 {
			p.at(s, "workflow %q lists step %q twice (first on line %d)", name, step.Name, w.Steps[i].Line)
			continue
		}
		w.Steps = append(w.Steps, step)
	}
	p.reachable(w)
	return w
}

func (p *parser) step(workflow string, def Workflow, n *yaml.Node) StepSpec {
	s := StepSpec{Line: n.Line}
	where := "workflow " + workflow + " step"
	p.mapping(n, where, []string{"name", "timeout", "retry", "poll", "compensation", "next"}, func(key, val *yaml.Node) {
		switch key.Value {
		case "name":
			s.Name = val.Value
		case "timeout":
			s.Timeout = p.duration(val, "timeout")
		case "retry":
			s.Retry = p.repeat(val, "retry", "backoff")
		case "poll":
			s.Poll = p.repeat(val, "poll", "every")
		case "compensation":
			s.Compensation = val.Value
		case "next":
			s.Next = val.Value
		}
	})
	if s.Name == "" {
		p.at(n, "workflow %q: a step has no name", workflow)
		return s
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultStepTimeout
	}
	step, ok := def.Step(s.Name)
	switch {
	case !ok:
		p.at(n, "workflow %q: unknown step %q (steps: %v)", workflow, s.Name, def.StepNames(false))
	case step.Compensation:
		p.at(n, "workflow %q: %q is a compensation, not a step", workflow, s.Name)
	case step.Changes && s.Compensation == "":
		p.at(n, "workflow %q: step %q changes %s and has no compensation (compensations: %v)",
			workflow, s.Name, step.What, def.StepNames(true))
	}
	if s.Compensation != "" {
		if c, ok := def.Step(s.Compensation); !ok || !c.Compensation {
			p.at(n, "workflow %q: step %q names unknown compensation %q (compensations: %v)",
				workflow, s.Name, s.Compensation, def.StepNames(true))
		}
	}
	return s
}

// reachable reports steps that following next from the first step never reaches, and next
// values that name no step.
func (p *parser) reachable(w WorkflowSpec) {
	if len(w.Steps) == 0 {
		return
	}
	reached := make([]bool, len(w.Steps))
	for i := 0; i >= 0 && !reached[i]; i = w.next(i) {
		reached[i] = true
	}
	for i, s := range w.Steps {
		if s.Next != "" && s.Next != EndStep && w.index(s.Next) < 0 {
			p.errs = append(p.errs, fmt.Errorf("contract %s:%d: workflow %q: step %q: next names unknown step %q",
				p.name, s.Line, w.Name, s.Name, s.Next))
		} else if !reached[i] {
			p.errs = append(p.errs, fmt.Errorf("contract %s:%d: workflow %q: step %q is unreachable from %q",
				p.name, s.Line, w.Name, s.Name, w.Steps[0].Name))
		}
	}
}

func (p *parser) duration(n *yaml.Node, what string) time.Duration {
	d, err := time.ParseDuration(n.Value)
	if err != nil || d <= 0 {
		p.at(n, "%s %q is not a positive duration such as \"10s\"", what, n.Value)
		return 0
	}
	return d
}

func (p *parser) repeat(n *yaml.Node, what, wait string) Repeat {
	var r Repeat
	p.mapping(n, what, []string{"attempts", wait}, func(key, val *yaml.Node) {
		if key.Value == wait {
			r.Wait = p.duration(val, what+" "+wait)
			return
		}
		if err := val.Decode(&r.Attempts); err != nil || r.Attempts < 1 {
			p.at(val, "%s attempts %q is not a whole number of at least 1", what, val.Value)
		}
	})
	if r.Attempts > 1 && r.Wait == 0 {
		p.at(n, "%s: missing %q", what, wait)
	}
	return r
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

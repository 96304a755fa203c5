// Package contract is a node's contract: the node.yaml beside a node's code that says what the
// node is (its kind), what it consumes and produces, the commands it accepts, what it depends
// on, the configuration it reads, its health probe, its metrics, its performance targets and the
// readiness rules it is excused from. Load reads one with every position kept, so that Validate
// names each problem by file and line.
package contract

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FileName is the name of a node's contract file, in the node's package directory.
const FileName = "node.yaml"

// Kind is what a node is.
type Kind string

// The four kinds of node.
const (
	// Effect nodes touch an outside system (the adapters).
	Effect Kind = "effect"
	// Compute nodes are pure transformations: no systems, consumes and produces only.
	Compute Kind = "compute"
	// Reducer nodes fold events into state (the projection).
	Reducer Kind = "reducer"
	// Orchestrator nodes run workflows (the sagas).
	Orchestrator Kind = "orchestrator"
)

// Kinds lists every kind, in the order the documentation gives them.
func Kinds() []Kind { return []Kind{Effect, Compute, Reducer, Orchestrator} }

// Systems lists the outside systems a node may depend on.
func Systems() []string { return []string{"postgresql", "kafka", "consul", "vault"} }

// Dimensions lists the readiness dimensions an exemption's rule id starts with.
func Dimensions() []string {
	return []string{"contract", "security", "performance", "documentation", "testing", "observability"}
}

// Contract is one node.yaml. Positions are kept out of the fields: Line answers for any path.
type Contract struct {
	// File is the path the contract was read from, as given to Load or Parse.
	File string `yaml:"-"`
	// Name is the node's name: kebab-case, unique across nodes. Required.
	Name string `yaml:"name"`
	// Kind is effect, compute, reducer or orchestrator. Required.
	Kind Kind `yaml:"kind"`
	// Version is the semantic version of the contract. Required.
	Version string `yaml:"version"`
	// Description says what the node does, in a sentence. Required.
	Description string `yaml:"description"`
	// Package is the node's Go package directory, relative to the module root. Required.
	Package string `yaml:"package"`
	// Workflows names the orchestrator's workflow contract, relative to this file
	// (orchestrators only; "contract.yaml" for the sagas).
	Workflows string `yaml:"workflows,omitempty"`
	// Consumes is what the node reads, per topic.
	Consumes []Stream `yaml:"consumes,omitempty"`
	// Produces is what the node emits (through the outbox), per topic.
	Produces []Stream `yaml:"produces,omitempty"`
	// Commands are the commands the node accepts (effect nodes; empty for the others).
	Commands []Command `yaml:"commands,omitempty"`
	// Dependencies are the systems and other nodes the node needs.
	Dependencies Dependencies `yaml:"dependencies,omitempty"`
	// Configuration is every flag the node reads, with its environment variable.
	Configuration []Setting `yaml:"configuration,omitempty"`
	// Health is how the node's health is checked.
	Health Health `yaml:"health,omitempty"`
	// Metrics are the Prometheus metric names the node exports.
	Metrics []string `yaml:"metrics,omitempty"`
	// Performance are the node's targets, tied to `make bench` figures by name.
	Performance []Target `yaml:"performance,omitempty"`
	// Readme is the README heading that documents the node ("## PostgreSQL adapter").
	Readme string `yaml:"readme,omitempty"`
	// Exemptions are readiness rules the node is excused from, each until a date.
	Exemptions []Exemption `yaml:"exemptions,omitempty"`

	lines map[string]int
}

// Stream is one topic and the message types read from or written to it.
type Stream struct {
	Topic    string       `yaml:"topic"`
	Messages []MessageRef `yaml:"messages"`
}

// MessageRef names a message type and its version ("command_succeeded", 1).
type MessageRef struct {
	Type    string `yaml:"type"`
	Version int    `yaml:"version"`
}

// String is the type as events.Kind prints it: "command_succeeded/v1".
func (m MessageRef) String() string { return m.Type + "/v" + strconv.Itoa(m.Version) }

// Command is one command an effect node accepts.
type Command struct {
	Type        string `yaml:"type"`
	Version     int    `yaml:"version"`
	Description string `yaml:"description"`
	// Example is an omni command line that sends it; the README must show it.
	Example string `yaml:"example,omitempty"`
}

// Ref is the command's message type.
func (c Command) Ref() MessageRef { return MessageRef{Type: c.Type, Version: c.Version} }

// Dependencies are what a node needs to run.
type Dependencies struct {
	// Systems are outside systems: postgresql, kafka, consul, vault.
	Systems []string `yaml:"systems,omitempty"`
	// Nodes are names of other nodes.
	Nodes []string `yaml:"nodes,omitempty"`
}

// Setting is one flag a node reads.
type Setting struct {
	// Flag is the command-line flag, with its dashes: "--postgres-target".
	Flag string `yaml:"flag"`
	// Env is the flag's environment variable: OMNI_ and the flag in upper snake case.
	Env         string `yaml:"env"`
	Description string `yaml:"description"`
}

// EnvFor is the environment variable cmd/omni reads a flag from: "--postgres-target" is
// OMNI_POSTGRES_TARGET.
func EnvFor(flag string) string {
	return "OMNI_" + strings.ToUpper(strings.ReplaceAll(strings.TrimLeft(flag, "-"), "-", "_"))
}

// Health is how a node's health is checked.
type Health struct {
	// Probe is the command or probe that checks it, or "none".
	Probe       string `yaml:"probe"`
	Description string `yaml:"description,omitempty"`
}

// Target is a performance target on one figure of bench-results.json.
type Target struct {
	// Figure is the key in bench-results.json.
	Figure string `yaml:"figure"`
	// Min is the least the figure may be; nil for no lower bound.
	Min *float64 `yaml:"min,omitempty"`
	// Max is the most the figure may be; nil for no upper bound.
	Max *float64 `yaml:"max,omitempty"`
}

// Meets reports whether v is within the target's bounds.
func (t Target) Meets(v float64) bool {
	return (t.Min == nil || v >= *t.Min) && (t.Max == nil || v <= *t.Max)
}

// String says the bounds: "relay_vs_forwarder_x >= 5", "e2e_p99_ms <= 50".
func (t Target) String() string {
	var parts []string
	if t.Min != nil {
		parts = append(parts, fmt.Sprintf("%s >= %g", t.Figure, *t.Min))
	}
	if t.Max != nil {
		parts = append(parts, fmt.Sprintf("%s <= %g", t.Figure, *t.Max))
	}
	return strings.Join(parts, " and ")
}

// DateLayout is how an exemption's expiry is written.
const DateLayout = "2006-01-02"

// Exemption excuses a node from one readiness rule until a date.
type Exemption struct {
	// Rule is a readiness rule id, "<dimension>.<rule>": "performance.figures_fresh".
	Rule   string `yaml:"rule"`
	Reason string `yaml:"reason"`
	// Expires is the last day the exemption counts, YYYY-MM-DD.
	Expires string `yaml:"expires"`
}

// ExpiresAt is the end of the expiry day, UTC: the exemption counts before it.
func (e Exemption) ExpiresAt() (time.Time, error) {
	d, err := time.Parse(DateLayout, e.Expires)
	if err != nil {
		return time.Time{}, fmt.Errorf("expiry %q is not a date (YYYY-MM-DD): %w", e.Expires, err)
	}
	return d.AddDate(0, 0, 1), nil
}

// Active reports whether the exemption still counts at now.
func (e Exemption) Active(now time.Time) bool {
	t, err := e.ExpiresAt()
	return err == nil && now.Before(t)
}

// Line is the line of the value at path in the contract's file: Line("commands", 2, "example")
// is the line of the third command's example. A path not written in the file answers the line
// of its nearest written parent (the file's first line at worst), so a problem about a
// missing key points at where it belongs.
func (c *Contract) Line(path ...any) int {
	for n := len(path); n >= 0; n-- {
		if l, ok := c.lines[key(path[:n])]; ok {
			return l
		}
	}
	return 1
}

// Where is "file:line" of the value at path.
func (c *Contract) Where(path ...any) string { return fmt.Sprintf("%s:%d", c.File, c.Line(path...)) }

// Has reports whether path is written in the file.
func (c *Contract) Has(path ...any) bool {
	_, ok := c.lines[key(path)]
	return ok
}

func key(path []any) string {
	parts := make([]string, len(path))
	for i, p := range path {
		parts[i] = fmt.Sprint(p)
	}
	return strings.Join(parts, ".")
}

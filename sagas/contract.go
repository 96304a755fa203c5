// Package sagas is the orchestrator: workflows run as sagas reacting to intents, declared in a
// contract, with their instances persisted in PostgreSQL.
package sagas

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

//go:embed contract.yaml
var defaultContract []byte

// Contract declares the workflows and which intent starts which.
type Contract struct {
	// Routes maps an intent's name to the workflow it starts.
	Routes map[string]string
	// Workflows by name.
	Workflows map[string]Workflow
}

// Workflow is an ordered list of steps.
type Workflow struct {
	Steps []string
}

type contractFile struct {
	Routes    yaml.Node `yaml:"routes"`
	Workflows yaml.Node `yaml:"workflows"`
}

// DefaultContract returns the contract built into the binary (sagas/contract.yaml).
func DefaultContract() (Contract, error) { return ParseContract("contract.yaml", defaultContract) }

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

// ParseContract parses and validates a contract. Every problem is reported with its line.
func ParseContract(name string, data []byte) (Contract, error) {
	var file contractFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		return Contract{}, fmt.Errorf("contract %s: %w", name, err)
	}
	c := Contract{Routes: map[string]string{}, Workflows: map[string]Workflow{}}
	var errs []error
	at := func(n *yaml.Node, format string, args ...any) {
		errs = append(errs, fmt.Errorf("contract %s:%d: %s", name, n.Line, fmt.Sprintf(format, args...)))
	}
	if file.Workflows.Kind != yaml.MappingNode {
		errs = append(errs, fmt.Errorf("contract %s: missing mapping \"workflows\"", name))
	} else {
		for i := 0; i+1 < len(file.Workflows.Content); i += 2 {
			key, val := file.Workflows.Content[i], file.Workflows.Content[i+1]
			var w Workflow
			var raw struct {
				Steps []string `yaml:"steps"`
			}
			if err := val.Decode(&raw); err != nil {
				at(val, "workflow %q: %v", key.Value, err)
				continue
			}
			if len(raw.Steps) == 0 {
				at(key, "workflow %q has no steps", key.Value)
			}
			seen := map[string]bool{}
			for _, s := range raw.Steps {
				if seen[s] {
					at(val, "workflow %q lists step %q twice", key.Value, s)
				}
				seen[s] = true
			}
			w.Steps = raw.Steps
			c.Workflows[key.Value] = w
		}
	}
	if file.Routes.Kind != yaml.MappingNode {
		errs = append(errs, fmt.Errorf("contract %s: missing mapping \"routes\"", name))
	} else {
		for i := 0; i+1 < len(file.Routes.Content); i += 2 {
			key, val := file.Routes.Content[i], file.Routes.Content[i+1]
			if _, ok := c.Workflows[val.Value]; !ok {
				at(val, "route %q names unknown workflow %q", key.Value, val.Value)
			}
			c.Routes[key.Value] = val.Value
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Contract{}, err
	}
	return c, nil
}

// Route returns the workflow an intent starts.
func (c Contract) Route(intent string) (string, bool) {
	w, ok := c.Routes[intent]
	return w, ok
}

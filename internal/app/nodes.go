package app

import (
	"fmt"
	"log/slog"

	"github.com/omninode/omnibase-infra/handlers/effect"
	"github.com/omninode/omnibase-infra/sagas"
	// omni:scaffold:imports
)

// NodesConfig configures the nodes omni scaffold added: one field per node, each the node's own
// Config. An effect node whose Config has no targets does not run.
type NodesConfig struct {
	// omni:scaffold:config
}

// scaffoldedNode is a node omni scaffold registered in the composition root.
type scaffoldedNode struct {
	// Name is the node's contract name (its node.yaml).
	Name string
	// Kind is effect, compute, reducer or orchestrator.
	Kind string
	// Package is the node's package directory, relative to the module root.
	Package string
	// Driver builds an effect node's driver from its config, or returns nil when the node has
	// no targets configured. Nil for the other kinds, which run inside the roles that use them.
	Driver func(cfg NodesConfig, logger *slog.Logger) (effect.Driver, error)
	// Workflows are an orchestrator's workflows, by name. Its workflow contract is checked
	// against them (omni contract validate); the engine runs sagas.Workflows() only.
	Workflows map[string]sagas.Workflow
}

// scaffoldedNodes are the nodes omni scaffold added, in the order it added them. The lines
// between the markers are written by omni scaffold; each node's line may be edited by hand.
func scaffoldedNodes() []scaffoldedNode {
	return []scaffoldedNode{
		// omni:scaffold:nodes
	}
}

// nodeDrivers builds the drivers of the scaffolded effect nodes that have targets. On an error
// it closes the drivers it built.
func nodeDrivers(cfg NodesConfig, logger *slog.Logger) ([]effect.Driver, error) {
	var drivers []effect.Driver
	for _, n := range scaffoldedNodes() {
		if n.Driver == nil {
			continue
		}
		d, err := n.Driver(cfg, logger.With("node", n.Name))
		if err != nil {
			for _, built := range drivers {
				built.Close()
			}
			return nil, fmt.Errorf("node %s (%s): %w", n.Name, n.Package, err)
		}
		if d != nil {
			drivers = append(drivers, d)
		}
	}
	return drivers, nil
}

// Workflows are the workflows of the saga engine and of the scaffolded orchestrators, by name:
// what a workflow contract is checked against.
func Workflows() map[string]sagas.Workflow {
	defs := sagas.Workflows()
	for _, n := range scaffoldedNodes() {
		for name, w := range n.Workflows {
			defs[name] = w
		}
	}
	return defs
}

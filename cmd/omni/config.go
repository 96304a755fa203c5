package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// configFile reads --config: a YAML mapping of flag names (without the dashes) to values, for
// any of omni's flags:
//
//	database-url: postgres://omni@db:5432/omni
//	probe-interval: 5s
//	postgres-target:
//	  - orders=postgres://omni@orders:5432/orders
//
// A value comes from the file only when neither the command line nor the environment gives it:
// flag > environment > file > default. A key that is no flag of omni is an error naming it; a
// flag of another command (one file for run and for state) is left alone.
func applyConfigFile(cmd *cobra.Command, path string) error {
	if path == "" {
		return nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return usageError("--config: %w", err)
	}
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return usageError("--config %s: not a YAML mapping of flag names to values: %w", path, err)
	}
	known := allFlagNames(cmd.Root())
	fs := cmd.Flags()
	var errs []error
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		node := doc[key]
		if !known[key] {
			errs = append(errs, fmt.Errorf("%s: %q is not a setting of omni (keys are flag names, such as probe-interval)", path, key))
			continue
		}
		f := fs.Lookup(key)
		if f == nil || f.Changed || key == "config" {
			continue // another command's flag, or given on the command line or by the environment
		}
		values, err := nodeValues(&node)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s (line %d): %w", path, key, node.Line, err))
			continue
		}
		if _, repeatable := f.Value.(pflag.SliceValue); !repeatable && len(values) != 1 {
			errs = append(errs, fmt.Errorf("%s: %s (line %d): want one value, not a list", path, key, node.Line))
			continue
		}
		for _, v := range values {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s (line %d): %w", path, key, node.Line, err))
				break
			}
		}
		f.Changed = true
	}
	if err := errors.Join(errs...); err != nil {
		return withCode(exitUsage, err)
	}
	return nil
}

// nodeValues are a scalar's value or a list's values, as text for the flag to parse.
func nodeValues(n *yaml.Node) ([]string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return []string{n.Value}, nil
	case yaml.SequenceNode:
		var out []string
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				return nil, errors.New("want a list of values, not of lists or mappings")
			}
			out = append(out, item.Value)
		}
		return out, nil
	}
	return nil, errors.New("want a value or a list of values, not a mapping")
}

// allFlagNames are the names of every flag of every command under root.
func allFlagNames(root *cobra.Command) map[string]bool {
	names := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		add := func(f *pflag.Flag) { names[f.Name] = true }
		c.LocalFlags().VisitAll(add)
		c.PersistentFlags().VisitAll(add)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return names
}

// configEnvHint is the --config flag's usage.
var configEnvHint = strings.Join([]string{
	"YAML file of settings, keys the flags' names (probe-interval: 5s);",
	"the command line and the environment win over it",
}, " ")

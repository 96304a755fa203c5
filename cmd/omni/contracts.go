package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/omninode/omnibase-infra/nodes/contract"
	"github.com/omninode/omnibase-infra/sagas"
)

// newContractValidateCmd checks node contracts (node.yaml) and workflow contracts (the
// orchestrator's contract.yaml): the files given, or every node of the checkout and the
// workflows their orchestrators name.
func newContractValidateCmd() *cobra.Command {
	var root string
	cmd := &cobra.Command{
		Use:   "validate [FILE...]",
		Short: "Check node contracts (node.yaml) and workflow contracts; every problem is named with its file and line",
		Long: `Check contracts. A FILE with a top-level "kind" is a node contract (node.yaml), any other a
workflow contract (the orchestrator's contract.yaml). Without FILEs: every node.yaml of the
checkout (found from the working directory up, or --root), each against the others (names
unique, the nodes depended on known) and the tree (package, workflow contract), and the workflow
contract of each orchestrator. Exit status 1 when there are problems, 2 when called wrongly.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			var errs []error
			if len(args) == 0 {
				if root == "" {
					r, err := contract.FindRoot(".")
					if err != nil {
						return usageError("%v: run it in the checkout, pass --root DIR, or name the files", err)
					}
					root = r
				}
				errs = validateTree(w, root)
			}
			for _, path := range args {
				if err := validateFile(w, path); err != nil {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVar(&root, "root", "", "the module checkout whose nodes to check (default: found from the working directory up)")
	return cmd
}

// validateFile checks one node or workflow contract.
func validateFile(w io.Writer, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return usageError("could not read %s: %v", path, err)
	}
	if !isNodeContract(data) {
		c, err := sagas.LoadContract(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s is valid: %d workflows, %d routes\n", path, len(c.Workflows), len(c.Routes))
		return nil
	}
	c, err := contract.Parse(path, data)
	if err != nil {
		return err
	}
	if ps := c.Validate(); len(ps) > 0 {
		return ps
	}
	if c.Workflows != "" {
		wpath := filepath.Join(filepath.Dir(path), filepath.FromSlash(c.Workflows))
		if _, err := sagas.LoadContract(wpath); err != nil {
			return fmt.Errorf("%s:%d: workflows %s: %w", path, c.Line("workflows"), c.Workflows, err)
		}
	}
	fmt.Fprintf(w, "%s is valid: %s\n", path, summary(c))
	return nil
}

// validateTree checks every node contract under root and its orchestrators' workflows.
func validateTree(w io.Writer, root string) []error {
	paths, err := contract.Discover(root)
	if err != nil {
		return []error{err}
	}
	if len(paths) == 0 {
		return []error{fmt.Errorf("no %s under %s", contract.FileName, root)}
	}
	cs, ps := contract.LoadAll(root, paths)
	ps = append(ps, contract.ValidateSet(cs)...)
	var errs []error
	for _, c := range cs {
		ps = append(ps, c.CheckTree(root)...)
	}
	bad := map[string]bool{}
	for _, p := range ps {
		bad[p.File] = true
	}
	for _, c := range cs {
		if !bad[c.File] {
			fmt.Fprintf(w, "%s is valid: %s\n", c.File, summary(c))
		}
		if c.Workflows == "" {
			continue
		}
		path := c.WorkflowsPath(root)
		rel, _ := filepath.Rel(root, path)
		wc, err := sagas.LoadContract(path)
		if err != nil {
			errs = append(errs, errors.New(strings.ReplaceAll(err.Error(), path, filepath.ToSlash(rel))))
			continue
		}
		fmt.Fprintf(w, "%s is valid: %d workflows, %d routes\n", filepath.ToSlash(rel), len(wc.Workflows), len(wc.Routes))
	}
	if len(ps) > 0 {
		errs = append([]error{ps}, errs...)
	}
	return errs
}

// isNodeContract tells a node.yaml (a top-level "kind") from a workflow contract.
func isNodeContract(data []byte) bool {
	var top map[string]yaml.Node
	if yaml.Unmarshal(data, &top) != nil {
		return false
	}
	_, ok := top["kind"]
	return ok
}

func summary(c *contract.Contract) string {
	return fmt.Sprintf("%s (%s %s), %d commands, consumes %d topics, produces %d", c.Name, c.Kind, c.Version,
		len(c.Commands), len(c.Consumes), len(c.Produces))
}

package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/nodes/contract"
	"github.com/omninode/omnibase-infra/nodes/scaffold"
	"github.com/omninode/omnibase-infra/nodes/scaffold/names"
)

// scaffoldDoc is what omni scaffold prints: the files it wrote (or, with --dry-run, would write).
type scaffoldDoc struct {
	Kind    string           `json:"kind"`
	Name    string           `json:"name"`
	Package string           `json:"package"`
	DryRun  bool             `json:"dry_run"`
	Changes []scaffoldChange `json:"changes"`
}

type scaffoldChange struct {
	Path   string `json:"path"`
	Action string `json:"action"`
	// Diff is the unified diff of the change, with --dry-run only.
	Diff string `json:"diff,omitempty"`
}

func newScaffoldCmd() *cobra.Command {
	var (
		dryRun, force bool
		dir           string
		o             output
	)
	cmd := &cobra.Command{
		Use:   "scaffold KIND NAME",
		Short: "Generate a new node (effect, compute, reducer or orchestrator): package, contract, tests, README section, registration",
		Long: `Generate a new node in the module at --dir: its package with its contract (node.yaml), code that
implements its kind's interfaces, unit tests, an integration test on the suite's containers, its
README section and its registration in the composition root (internal/app/nodes.go), each
inserted at a marker comment. NAME may be spelt in any case (http-endpoint, HTTPEndpoint,
http_endpoint). Files that exist are never overwritten without --force, and running the same
scaffold again changes nothing.`,
		Example: `  omni scaffold effect http-endpoint --dry-run
  omni scaffold compute health-score
  omni scaffold reducer target-uptime -o json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, err := scaffold.ParseKind(args[0])
			if err != nil {
				return withCode(exitUsage, err)
			}
			if _, err := o.Format(); err != nil {
				return err
			}
			root, err := moduleRoot(dir)
			if err != nil {
				return withCode(exitUsage, err)
			}
			plan, err := scaffold.Request{Root: root, Kind: kind, Name: args[1], Force: force}.Plan()
			if errors.Is(err, names.ErrInvalid) || errors.Is(err, scaffold.ErrExists) {
				return withCode(exitUsage, err)
			}
			if err != nil {
				return err
			}
			doc := scaffoldDoc{Kind: string(kind), Name: plan.Name, Package: plan.Dir, DryRun: dryRun}
			for _, c := range plan.Changes {
				sc := scaffoldChange{Path: c.Path, Action: c.Action()}
				if dryRun {
					sc.Diff = c.Diff()
				}
				doc.Changes = append(doc.Changes, sc)
			}
			if !dryRun {
				if err := plan.Apply(root); err != nil {
					return err
				}
			}
			return o.print(cmd.OutOrStdout(), doc, doc.Changes, func(w io.Writer, wide bool) error {
				return printScaffold(w, doc, plan.Changed(), wide)
			})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&dryRun, "dry-run", false, "print the files it would write and a unified diff of each; write nothing")
	f.BoolVar(&force, "force", false, "overwrite the node's files that exist with other contents")
	f.StringVar(&dir, "dir", "", "root of the module to write into (default: the module around the working directory)")
	addOutput(cmd, &o)
	return cmd
}

// printScaffold is omni scaffold's table: one line per file and, for a dry run, the diffs (of a
// new file only with -o wide: its whole contents).
func printScaffold(w io.Writer, doc scaffoldDoc, changed, wide bool) error {
	verb := "wrote"
	if doc.DryRun {
		verb = "would write"
	}
	if !changed {
		verb = "nothing to change for"
	}
	if _, err := fmt.Fprintf(w, "%s the %s node %s (%s)\n", verb, doc.Kind, doc.Name, doc.Package); err != nil {
		return err
	}
	for _, c := range doc.Changes {
		if _, err := fmt.Fprintf(w, "  %-9s  %s\n", c.Action, c.Path); err != nil {
			return err
		}
	}
	for _, c := range doc.Changes {
		if c.Diff == "" || (c.Action == "create" && !wide) {
			continue
		}
		if _, err := fmt.Fprintf(w, "\n%s", c.Diff); err != nil {
			return err
		}
	}
	return nil
}

// moduleRoot is dir, which must be the module's root, or the module's root around the working
// directory.
func moduleRoot(dir string) (string, error) {
	if dir == "" {
		root, err := contract.FindRoot(".")
		if err != nil {
			return "", fmt.Errorf("%w: run omni scaffold inside it, or give --dir", err)
		}
		return root, nil
	}
	root, err := contract.FindRoot(dir)
	if err != nil {
		return "", fmt.Errorf("--dir %s: %w", dir, err)
	}
	if abs, _ := filepath.Abs(dir); abs != root {
		return "", fmt.Errorf("--dir %s: the module's root is %s", dir, root)
	}
	return root, nil
}

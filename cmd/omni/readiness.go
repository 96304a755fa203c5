package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/nodes/contract"
	"github.com/omninode/omnibase-infra/nodes/readiness"
)

// newReadinessCmd grades nodes NOT_READY … PRODUCTION from the checkout, offline.
func newReadinessCmd() *cobra.Command {
	var (
		out       output
		cfg       readiness.Config
		failBelow string
	)
	cmd := &cobra.Command{
		Use:   "readiness [NODE...]",
		Short: "Grade nodes NOT_READY, DEVELOPMENT, STAGING or PRODUCTION across contract, security, performance, documentation, testing and observability",
		Long: `Grade each node (by name or package directory; default: every node with a node.yaml) from the
checkout, offline: probes read the contracts, the Go source, README.md, bench-results.json and,
with --coverprofile, a coverage profile. A node holds a level only when it passes every rule of
that level and the levels below; a contract's exemption excuses a rule until it expires. The
table shows each dimension's level and, below it, every finding that holds a node back with its
place and remedy (-o wide: every finding that did not pass, exemptions included).
With --fail-below LEVEL, exit status 1 when a node is below LEVEL.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var floor readiness.Level = readiness.NotReady
			if failBelow != "" {
				l, err := readiness.ParseLevel(failBelow)
				if err != nil {
					return usageError("--fail-below: %v", err)
				}
				floor = l
			}
			if cfg.Root == "" {
				r, err := contract.FindRoot(".")
				if err != nil {
					return usageError("%v: run it in the checkout or pass --root DIR", err)
				}
				cfg.Root = r
			}
			reports, err := readiness.Assess(cfg, args...)
			if errors.Is(err, readiness.ErrUnknownNode) {
				return usageError("%v", err)
			}
			if err != nil {
				return err
			}
			if err := out.print(cmd.OutOrStdout(), reports, reports, func(w io.Writer, wide bool) error {
				return writeReadiness(w, wide, reports)
			}); err != nil {
				return err
			}
			var below []string
			for _, r := range reports {
				if r.Level < floor {
					below = append(below, fmt.Sprintf("%s is %s", r.Node, r.Level))
				}
			}
			if len(below) > 0 {
				return fmt.Errorf("below %s: %s", floor, strings.Join(below, ", "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Root, "root", "", "the module checkout (default: found from the working directory up)")
	f.StringVar(&failBelow, "fail-below", "", "exit 1 when a node is below this level: NOT_READY, DEVELOPMENT, STAGING or PRODUCTION")
	f.StringVar(&cfg.CoverProfile, "coverprofile", "", "a go test -coverprofile file, for testing.coverage (skipped without one)")
	f.Float64Var(&cfg.MinCoverage, "min-coverage", 60, "statement coverage, in percent, testing.coverage asks of a node's package")
	f.StringVar(&cfg.BenchResults, "bench-results", "", "the figures of make bench (default: bench-results.json at the root)")
	addOutput(cmd, &out)
	return cmd
}

func writeReadiness(w io.Writer, wide bool, reports []readiness.Report) error {
	cols := []column[readiness.Report]{
		{name: "node", value: func(r readiness.Report) string { return r.Node }},
		{name: "kind", value: func(r readiness.Report) string { return r.Kind }},
		{name: "level", value: func(r readiness.Report) string { return r.Level.String() }},
	}
	for _, d := range readiness.Dimensions() {
		cols = append(cols, column[readiness.Report]{name: d, value: func(r readiness.Report) string { return r.Dimension(d).Level.String() }})
	}
	cols = append(cols, column[readiness.Report]{name: "contract_file", wide: true, value: func(r readiness.Report) string { return r.Contract }})
	if err := writeTable(w, wide, cols, reports); err != nil {
		return err
	}
	for _, r := range reports {
		var shown []readiness.Finding
		for _, v := range r.Dimensions {
			for _, rr := range v.Rules {
				for _, f := range rr.Findings {
					if f.Outcome == readiness.Fail || (wide && f.Outcome != readiness.Pass) {
						shown = append(shown, f)
					}
				}
			}
		}
		if len(shown) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s (%s):\n", r.Node, r.Level)
		for _, f := range shown {
			fmt.Fprintf(w, "  %-6s %s\n", f.Outcome, f)
		}
	}
	return nil
}

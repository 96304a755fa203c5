package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/projections/infrastate"
)

func newStateCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Print the infrastructure state as the projection sees it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.requireDatabase(); err != nil {
				return err
			}
			db, err := app.Connect(cmd.Context(), g.databaseURL)
			if err != nil {
				return err
			}
			defer db.Close()
			states, err := infrastate.List(cmd.Context(), db)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Overall infrastate.Status        `json:"overall"`
					Targets []infrastate.TargetState `json:"targets"`
				}{infrastate.Overall(states), states})
			}
			return printState(cmd.OutOrStdout(), states)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for machines")
	return cmd
}

func printState(w io.Writer, states []infrastate.TargetState) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tSTATUS\tFAILS\tLATENCY\tBREAKER\tPOOL\tLAST PROBE\tLAST ERROR")
	for _, s := range states {
		last := "-"
		if !s.LastProbedAt.IsZero() {
			last = s.LastProbedAt.Local().Format(time.TimeOnly)
		}
		lat := time.Duration(s.LastLatencyMicros) * time.Microsecond
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d/%d\t%s\t%s\n", s.AdapterID, s.Status, s.ConsecutiveFailures,
			lat.Round(10*time.Microsecond), s.Breaker, s.Pool.Acquired, s.Pool.Max, last, truncate(s.LastError, 60))
	}
	fmt.Fprintf(tw, "\noverall: %s (%d targets)\n", infrastate.Overall(states), len(states))
	return tw.Flush()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

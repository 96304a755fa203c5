package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/migrations"
)

func newMigrateCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:       "migrate up|down|status",
		Short:     "Apply, roll back (the newest one) or list the schema migrations",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"up", "down", "status"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.requireDatabase(); err != nil {
				return err
			}
			m, err := migrations.New(g.databaseURL)
			if err != nil {
				return err
			}
			defer m.Close()
			out := cmd.OutOrStdout()
			ctx := cmd.Context()
			switch args[0] {
			case "up":
				res, err := m.Up(ctx)
				for _, r := range res {
					fmt.Fprintf(out, "applied %s (%s)\n", r.Source.Path, r.Duration)
				}
				if err == nil && len(res) == 0 {
					fmt.Fprintln(out, "nothing to apply: the schema is current")
				}
				return err
			case "down":
				r, err := m.Down(ctx)
				if r != nil {
					fmt.Fprintf(out, "rolled back %s\n", r.Source.Path)
				}
				return err
			case "status":
				st, err := m.Status(ctx)
				for _, s := range st {
					fmt.Fprintf(out, "%-8s %s\n", s.State, s.Source.Path)
				}
				return err
			}
			return fmt.Errorf("migrate %q: want up, down or status", args[0])
		},
	}
	return cmd
}

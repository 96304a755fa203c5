package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/migrations"
)

// migrationRow is one migration in omni migrate status.
type migrationRow struct {
	Version int64  `json:"version"`
	Path    string `json:"path"`
	State   string `json:"state"`
}

func newMigrateCmd(g *globals) *cobra.Command {
	var o output
	cmd := &cobra.Command{
		Use:       "migrate up|down|status",
		Short:     "Apply, roll back (the newest one) or list the schema migrations (status takes -o)",
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
				if _, err := o.Format(); err != nil {
					return err
				}
				st, err := m.Status(ctx)
				if err != nil {
					return err
				}
				rows := make([]migrationRow, len(st))
				for i, s := range st {
					rows[i] = migrationRow{Version: s.Source.Version, Path: s.Source.Path, State: string(s.State)}
				}
				return o.print(out, rows, rows, func(w io.Writer, wide bool) error {
					return writeTable(w, wide, []column[migrationRow]{
						{name: "state", value: func(r migrationRow) string { return r.State }},
						{name: "version", value: func(r migrationRow) string { return fmt.Sprint(r.Version) }},
						{name: "path", value: func(r migrationRow) string { return r.Path }},
					}, rows)
				})
			}
			return usageError("migrate %q: want up, down or status", args[0])
		},
	}
	addOutput(cmd, &o)
	return cmd
}

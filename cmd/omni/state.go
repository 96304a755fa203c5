package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/projections/infrastate"
)

// filterFlags are the flags `state` and `intents` share.
type filterFlags struct {
	target, status, kind, since string
	asJSON                      bool
}

func (ff *filterFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&ff.asJSON, "json", false, "print JSON for machines")
	cmd.Flags().StringVar(&ff.target, "target", "", "only this target: an adapter id (postgres/orders), an adapter (postgres) or a target name (orders)")
	cmd.Flags().StringVar(&ff.since, "since", "", "only what changed since: a duration back from now (10m) or a time (RFC 3339)")
}

func (ff *filterFlags) filter(now time.Time) (infrastate.Filter, error) {
	f := infrastate.Filter{Target: ff.target, Status: infrastate.Status(ff.status), Kind: ff.kind}
	if ff.status != "" && !slices.Contains(events.Statuses(), f.Status) {
		return f, fmt.Errorf("--status %q: want unknown, healthy, degraded or critical", ff.status)
	}
	if ff.kind != "" && !slices.Contains(intentKinds(), ff.kind) {
		return f, fmt.Errorf("--kind %q: want one of %s", ff.kind, strings.Join(intentKinds(), ", "))
	}
	if ff.since != "" {
		if d, err := time.ParseDuration(ff.since); err == nil && d >= 0 {
			f.Since = now.Add(-d)
		} else if t, err := time.Parse(time.RFC3339, ff.since); err == nil {
			f.Since = t
		} else {
			return f, fmt.Errorf("--since %q: want a duration such as 10m or a time such as 2026-11-23T10:00:00Z", ff.since)
		}
	}
	return f, nil
}

func intentKinds() []string {
	var out []string
	for _, in := range events.RaisedIntents() {
		out = append(out, in.Kind().Name)
	}
	return out
}

// read runs list on the control database with the filters given.
func (ff *filterFlags) read(g *globals, list func(ctx context.Context, out io.Writer, db *pgxpool.Pool, f infrastate.Filter) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		f, err := ff.filter(time.Now())
		if err != nil {
			return err
		}
		db, err := g.connect(cmd.Context())
		if err != nil {
			return err
		}
		defer db.Close()
		return list(cmd.Context(), cmd.OutOrStdout(), db, f)
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newStateCmd(g *globals) *cobra.Command {
	var ff filterFlags
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Print the infrastructure state as the projection sees it",
		Args:  cobra.NoArgs,
		RunE: ff.read(g, func(ctx context.Context, out io.Writer, db *pgxpool.Pool, f infrastate.Filter) error {
			states, err := infrastate.ListFiltered(ctx, db, f)
			if err != nil {
				return err
			}
			if ff.asJSON {
				return writeJSON(out, struct {
					Overall infrastate.Status        `json:"overall"`
					Targets []infrastate.TargetState `json:"targets"`
				}{infrastate.Overall(states), states})
			}
			return printState(out, states)
		}),
	}
	ff.register(cmd)
	cmd.Flags().StringVar(&ff.status, "status", "", "only targets in this status: unknown, healthy, degraded or critical")
	return cmd
}

func newIntentsCmd(g *globals) *cobra.Command {
	var ff filterFlags
	cmd := &cobra.Command{
		Use:   "intents",
		Short: "Print the intents the projection raised, oldest first",
		Args:  cobra.NoArgs,
		RunE: ff.read(g, func(ctx context.Context, out io.Writer, db *pgxpool.Pool, f infrastate.Filter) error {
			intents, err := infrastate.ListIntents(ctx, db, f)
			if err != nil {
				return err
			}
			if ff.asJSON {
				if intents == nil {
					intents = []infrastate.IntentRow{}
				}
				return writeJSON(out, intents)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RAISED\tINTENT\tSUBJECT\tREASON")
			for _, in := range intents {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", in.RaisedAt.Local().Format(time.DateTime), in.Kind, in.Subject, truncate(in.Reason, 80))
			}
			fmt.Fprintf(tw, "\n%d intents\n", len(intents))
			return tw.Flush()
		}),
	}
	ff.register(cmd)
	cmd.Flags().StringVar(&ff.kind, "kind", "", "only intents of this kind, e.g. infrastructure_health_critical")
	return cmd
}

func printState(w io.Writer, states []infrastate.TargetState) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tSTATUS\tFAILS\tLATENCY\tBREAKER\tPOOL\tOWNER\tLAST PROBE\tLAST ERROR")
	for _, s := range states {
		last := "-"
		if !s.LastProbedAt.IsZero() {
			last = s.LastProbedAt.Local().Format(time.TimeOnly)
		}
		lat := time.Duration(s.LastLatencyMicros) * time.Microsecond
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", s.AdapterID, s.Status, s.ConsecutiveFailures,
			lat.Round(10*time.Microsecond), s.Breaker, s.Pool.Acquired, s.Pool.Max, ownerOf(s), last, truncate(s.LastError, 60))
	}
	fmt.Fprintf(tw, "\noverall: %s (%d targets)\n", infrastate.Overall(states), len(states))
	return tw.Flush()
}

// ownerOf is who owns the target since when: "host/pid/id since 12:00:01", or "none since …"
// while it is between owners.
func ownerOf(s infrastate.TargetState) string {
	if s.OwnerSince.IsZero() {
		return "-"
	}
	who := s.Owner
	if who == "" {
		who = "none"
	}
	return who + " since " + s.OwnerSince.Local().Format(time.TimeOnly)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

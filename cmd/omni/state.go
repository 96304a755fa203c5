package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/projections/infrastate"
)

// filterFlags are the flags `state` and `intents` share.
type filterFlags struct {
	target, status, kind, since string
	out                         output
}

func (ff *filterFlags) register(cmd *cobra.Command, g *globals) {
	addOutput(cmd, &ff.out)
	cmd.Flags().StringVar(&ff.target, "target", "", "only this target: an adapter id (postgres/orders), an adapter (postgres) or a target name (orders)")
	cmd.Flags().StringVar(&ff.since, "since", "", "only what changed since: a duration back from now (10m) or a time (RFC 3339)")
	_ = cmd.RegisterFlagCompletionFunc("target", g.completeTargets(""))
}

func (ff *filterFlags) filter(now time.Time) (infrastate.Filter, error) {
	f := infrastate.Filter{Target: ff.target, Status: infrastate.Status(ff.status), Kind: ff.kind}
	if ff.status != "" && !slices.Contains(events.Statuses(), f.Status) {
		return f, usageError("--status %q: want unknown, healthy, degraded or critical", ff.status)
	}
	if ff.kind != "" && !slices.Contains(intentKinds(), ff.kind) {
		return f, usageError("--kind %q: want one of %s", ff.kind, strings.Join(intentKinds(), ", "))
	}
	if ff.since != "" {
		if d, err := time.ParseDuration(ff.since); err == nil && d >= 0 {
			f.Since = now.Add(-d)
		} else if t, err := time.Parse(time.RFC3339, ff.since); err == nil {
			f.Since = t
		} else {
			return f, usageError("--since %q: want a duration such as 10m or a time such as 2026-11-23T10:00:00Z", ff.since)
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
		if _, err := ff.out.Format(); err != nil {
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

func newStateCmd(g *globals) *cobra.Command {
	var ff filterFlags
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Print the infrastructure state as the projection sees it",
		Long: `Print the infrastructure state as the projection sees it: one row per target. A --target that
names no target says so, naming the targets there are, and exits 1.`,
		Args: cobra.NoArgs,
		RunE: ff.read(g, func(ctx context.Context, out io.Writer, db *pgxpool.Pool, f infrastate.Filter) error {
			states, err := infrastate.ListFiltered(ctx, db, f)
			if err != nil {
				return err
			}
			if states == nil {
				states = []infrastate.TargetState{}
			}
			if len(states) == 0 && f.Target != "" {
				if err := checkTargetFilter(ctx, db, f.Target); err != nil {
					return err
				}
			}
			doc := stateDoc{Overall: infrastate.Overall(states), Targets: states}
			return ff.out.print(out, doc, states, func(w io.Writer, wide bool) error { return printState(w, wide, states, time.Now()) })
		}),
	}
	ff.register(cmd, g)
	cmd.Flags().StringVar(&ff.status, "status", "", "only targets in this status: unknown, healthy, degraded or critical")
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(statusNames(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// stateDoc is omni state's document: the overall status and every target.
type stateDoc struct {
	Overall infrastate.Status        `json:"overall"`
	Targets []infrastate.TargetState `json:"targets"`
}

// checkTargetFilter is the error of a --target that names no target at all (whatever the other
// filters), naming the targets there are, so that a typo (--target contol) is not mistaken for a
// target with nothing to show. A status or time filter that selects nothing is an empty answer.
func checkTargetFilter(ctx context.Context, db *pgxpool.Pool, target string) error {
	matching, err := infrastate.ListFiltered(ctx, db, infrastate.Filter{Target: target})
	if err != nil || len(matching) > 0 {
		return err
	}
	all, err := infrastate.List(ctx, db)
	if err != nil {
		return err
	}
	ids := make([]string, len(all))
	for i, s := range all {
		ids[i] = s.AdapterID
	}
	known := "the projection knows no target yet"
	if len(ids) > 0 {
		known = "targets: " + strings.Join(ids, ", ")
	}
	return fmt.Errorf("no target matches --target %s (%s)", target, known)
}

func statusNames() []string {
	var out []string
	for _, s := range events.Statuses() {
		out = append(out, string(s))
	}
	return out
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
			if intents == nil {
				intents = []infrastate.IntentRow{}
			}
			return ff.out.print(out, intents, intents, func(w io.Writer, wide bool) error {
				now := time.Now()
				err := writeTable(w, wide, []column[infrastate.IntentRow]{
					{name: "raised_at", value: func(in infrastate.IntentRow) string { return tableTime(in.RaisedAt, now) }},
					{name: "kind", value: func(in infrastate.IntentRow) string { return in.Kind }},
					{name: "subject", value: func(in infrastate.IntentRow) string { return in.Subject }},
					{name: "reason", max: 80, value: func(in infrastate.IntentRow) string { return in.Reason }},
					{name: "intent_id", wide: true, value: func(in infrastate.IntentRow) string { return in.ID }},
					{name: "caused_by", wide: true, value: func(in infrastate.IntentRow) string { return in.CausedBy }},
				}, intents)
				fmt.Fprintf(w, "\n%d intents\n", len(intents))
				return err
			})
		}),
	}
	ff.register(cmd, g)
	cmd.Flags().StringVar(&ff.kind, "kind", "", "only intents of this kind, e.g. infrastructure_health_critical")
	_ = cmd.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions(intentKinds(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func printState(w io.Writer, wide bool, states []infrastate.TargetState, now time.Time) error {
	err := writeTable(w, wide, []column[infrastate.TargetState]{
		{name: "adapter_id", value: func(s infrastate.TargetState) string { return s.AdapterID }},
		{name: "status", value: func(s infrastate.TargetState) string { return string(s.Status) }},
		{name: "consecutive_failures", value: func(s infrastate.TargetState) string { return fmt.Sprint(s.ConsecutiveFailures) }},
		{name: "last_latency", value: func(s infrastate.TargetState) string { return micros(s.LastLatencyMicros) }},
		{name: "breaker", value: func(s infrastate.TargetState) string { return string(s.Breaker) }},
		{name: "probes", wide: true, value: func(s infrastate.TargetState) string { return fmt.Sprint(s.Probes) }},
		{name: "pool", wide: true, value: func(s infrastate.TargetState) string { return fmt.Sprintf("%d/%d", s.Pool.Acquired, s.Pool.Max) }},
		{name: "owner", wide: true, value: func(s infrastate.TargetState) string { return s.Owner }},
		{name: "owner_since", wide: true, value: func(s infrastate.TargetState) string { return tableTime(s.OwnerSince, now) }},
		{name: "last_probed_at", value: func(s infrastate.TargetState) string { return tableTime(s.LastProbedAt, now) }},
		{name: "last_error", max: 60, value: func(s infrastate.TargetState) string { return s.LastError }},
	}, states)
	fmt.Fprintf(w, "\noverall: %s (%d targets)\n", infrastate.Overall(states), len(states))
	return err
}

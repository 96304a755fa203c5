package main

import (
	"context"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/projections/infrastate"
	"github.com/omninode/omnibase-infra/sagas"
)

// Shell completion (omni completion bash|zsh|fish|powershell, cobra's) knows the adapters and
// their commands, the output formats, statuses and intent kinds, and — when the control database
// answers within a second — the targets the projection knows and the sagas' ids.

// completionDB opens the control database for a completion, or nil: a completion never waits
// long and never prints an error.
func (g *globals) completionDB(cmd *cobra.Command) (*pgxpool.Pool, context.Context, context.CancelFunc) {
	_ = applyEnv(cmd.Flags(), os.LookupEnv)
	_ = applyConfigFile(cmd, g.configFile)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	if g.databaseURL == "" {
		return nil, ctx, cancel
	}
	db, err := app.Connect(ctx, g.databaseURL)
	if err != nil {
		return nil, ctx, cancel
	}
	return db, ctx, func() { db.Close(); cancel() }
}

// completeTargets completes --target with the targets the projection knows: adapter ids, and
// the target names of adapter (all adapters when empty).
func (g *globals) completeTargets(adapter string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		a := adapter
		if a == "" && cmd.Name() == "cmd" && len(args) > 0 {
			a = args[0]
		}
		db, ctx, done := g.completionDB(cmd)
		defer done()
		if db == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		states, err := infrastate.List(ctx, db)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, s := range states {
			switch {
			case a != "" && s.Adapter == a:
				out = append(out, s.Target)
			case a == "":
				out = append(out, s.AdapterID, s.Target)
			}
		}
		slices.Sort(out)
		return slices.Compact(out), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeSagaIDs completes a saga id with the newest sagas' ids and what they are.
func (g *globals) completeSagaIDs(cmd *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	db, ctx, done := g.completionDB(cmd)
	defer done()
	if db == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	list, err := sagas.List(ctx, db, sagas.Filter{})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, s := range list {
		if strings.HasPrefix(s.ID, prefix) {
			out = append(out, cobra.CompletionWithDesc(s.ID, s.Workflow+" of "+s.Subject+", "+string(s.Status)))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeCommand completes omni cmd's ADAPTER and COMMAND (and explain's).
func completeCommand(names map[string]map[string]events.Kind) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var out []string
		switch len(args) {
		case 0:
			for a := range names {
				out = append(out, a)
			}
		case 1:
			for n := range names[args[0]] {
				out = append(out, n)
			}
		}
		slices.Sort(out)
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

package sagas

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// TargetReader is what the sagas read of the projection: each target's adapter, name, status and
// breaker, and nothing else of its state. projections/infrastate.Targets is one.
type TargetReader interface {
	// ReadTargets calls each with every target the projection knows. It reads through q, the
	// saga's transaction, so a decision sees the projection as of the transaction it commits in.
	ReadTargets(ctx context.Context, q pgtx.Querier,
		each func(adapter, target string, status events.Status, breaker events.BreakerState)) error
}

// Target is one adapter target as the projection sees it.
type Target struct {
	Adapter string
	Target  string
	Status  events.Status
	Breaker events.BreakerState
}

// ID is the target's adapter id.
func (t Target) ID() string { return events.AdapterID(t.Adapter, t.Target) }

// View is what the saga may read of the world when it decides: the projection's targets.
type View struct {
	Targets []Target
}

// readView reads the projection's targets through r, inside q.
func readView(ctx context.Context, r TargetReader, q pgtx.Querier) (View, error) {
	var v View
	err := r.ReadTargets(ctx, q, func(adapter, target string, status events.Status, breaker events.BreakerState) {
		v.Targets = append(v.Targets, Target{Adapter: adapter, Target: target, Status: status, Breaker: breaker})
	})
	if err != nil {
		return View{}, fmt.Errorf("could not read the projection's targets: %w", err)
	}
	return v, nil
}

// Find returns the target with adapter id id.
func (v View) Find(id string) (Target, bool) {
	i := slices.IndexFunc(v.Targets, func(t Target) bool { return t.ID() == id })
	if i < 0 {
		return Target{}, false
	}
	return v.Targets[i], true
}

// Select returns the targets of adapter, or every target when adapter is "", ordered by adapter
// id whatever order the reader gave them in, so a decision does not depend on it.
func (v View) Select(adapter string) []Target {
	var out []Target
	for _, t := range v.Targets {
		if adapter == "" || t.Adapter == adapter {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b Target) int { return strings.Compare(a.ID(), b.ID()) })
	return out
}

// ids returns the adapter ids of targets, in their order.
func ids(targets []Target) []string {
	out := make([]string, 0, len(targets))
	for _, t := range targets {
		out = append(out, t.ID())
	}
	return out
}

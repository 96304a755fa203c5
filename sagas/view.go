package sagas

import (
	"slices"
	"strings"

	"github.com/omninode/omnibase-infra/events"
)

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

// Package effecttest is the contract every effect.Driver keeps, as one suite each driver's tests
// run against its real server: RunDriverSuite. The runner (effect.Adapter) relies on what it
// checks — a probe reports a stopped server rather than hanging on it, Transient tells what may go
// away by itself from what the server refused, a call honours its deadline, Close lets calls in
// flight finish — so a driver that passes can be run by it without code of its own for these.
package effecttest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/effect"
)

// MinSlowFor is the shortest Harness.SlowFor: the deadline check gives a call deadline+grace to
// return, which must stay well short of the time the server takes, or a driver that ignores its
// deadline and waits for the answer would pass.
const MinSlowFor = 2 * time.Second

// Server is the server of the harness's target, which the checks stop and start again. It must
// come back on the same address.
type Server interface {
	Stop(ctx context.Context) error
	Start(ctx context.Context) error
}

// Harness is one driver under test with one target on a real server. Each check gets a fresh one
// from newHarness, since the checks stop the server, stall it and close the driver.
type Harness struct {
	// Driver under test, with Target configured. Required. The suite closes it, more than once.
	Driver effect.Driver
	// Target is the name of the configured target the checks use. Required.
	Target string
	// Server runs Target; running and answering when the harness is made. Required.
	Server Server
	// Control is a migrated control database, which the runner (effect.Adapter) records its
	// health reports into. Required.
	Control *pgxpool.Pool
	// Permanent is a command for Target that the server refuses for what it is: a syntax error,
	// a topic it cannot hold, an unknown check. Required.
	Permanent events.Command
	// Slow is a command for Target that stays in flight on the server for SlowFor, by itself
	// (pg_sleep) or because Stall holds the server; it succeeds once the server answers. The
	// checks also send it to the stopped server, and after Close. Required.
	Slow events.Command
	// SlowFor is how long Slow stays in flight; at least MinSlowFor. Required.
	SlowFor time.Duration
	// Stall is for a server that answers Slow at once: it makes the server hold every request
	// until resume is called (pausing its container, say). The suite resumes it SlowFor after
	// sending Slow (or when the check ends, if that comes first), once. Optional.
	Stall func(ctx context.Context) (resume func(ctx context.Context) error, err error)
	// CheckSlow checks Slow's result, showing that the call got its whole answer. Optional.
	CheckSlow func(t *testing.T, result events.Result)
	// ProbeTimeout bounds each probe, as effect.Config.ProbeTimeout does. Default 2s.
	ProbeTimeout time.Duration
	// Logger of the runner. Default: discards.
	Logger *slog.Logger
}

func (h *Harness) setDefaults() {
	if h.ProbeTimeout == 0 {
		h.ProbeTimeout = 2 * time.Second
	}
	if h.Logger == nil {
		h.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every field the harness is missing or has wrong.
func (h Harness) Validate() error {
	var errs []error
	if h.Driver == nil {
		errs = append(errs, errors.New("missing Driver"))
	}
	if h.Target == "" {
		errs = append(errs, errors.New("missing Target"))
	}
	if h.Server == nil {
		errs = append(errs, errors.New("missing Server"))
	}
	if h.Control == nil {
		errs = append(errs, errors.New("missing Control"))
	}
	if h.Permanent == nil {
		errs = append(errs, errors.New("missing Permanent"))
	}
	if h.Slow == nil {
		errs = append(errs, errors.New("missing Slow"))
	}
	if h.SlowFor < MinSlowFor {
		errs = append(errs, fmt.Errorf("SlowFor is %s, want at least %s", h.SlowFor, MinSlowFor))
	}
	if h.ProbeTimeout < 0 {
		errs = append(errs, errors.New("negative ProbeTimeout"))
	}
	for _, c := range []events.Command{h.Permanent, h.Slow} {
		if c == nil {
			continue
		}
		if err := c.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s is not a command the runner would accept: %w", c.Kind(), err))
		}
		if adapter, target := c.Addressee(); h.Driver != nil && (adapter != h.Driver.Adapter() || target != h.Target) {
			errs = append(errs, fmt.Errorf("%s is for %s, not for %s", c.Kind(), events.AdapterID(adapter, target),
				events.AdapterID(h.Driver.Adapter(), h.Target)))
		}
	}
	return errors.Join(errs...)
}

package effect

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/omninode/omnibase-infra/events"
)

// Breaker configures the circuit breaker every target gets.
type Breaker struct {
	// Failures in a row that open the breaker. Default 5.
	Failures uint32
	// OpenFor is how long the breaker stays open before it lets one call through (half-open).
	// Default 10s.
	OpenFor time.Duration
	// HalfOpenCalls is how many calls half-open lets through; that many successes close it.
	// Default 1.
	HalfOpenCalls uint32
}

func (b *Breaker) setDefaults() {
	if b.Failures == 0 {
		b.Failures = 5
	}
	if b.OpenFor == 0 {
		b.OpenFor = 10 * time.Second
	}
	if b.HalfOpenCalls == 0 {
		b.HalfOpenCalls = 1
	}
}

// ErrBreakerOpen is returned, wrapped, for a call the breaker did not let through.
var ErrBreakerOpen = errors.New("circuit breaker open")

// breakers holds each target's breaker as last recorded. A call is admitted against it; its
// outcome moves it only when the outcome is recorded (see Adapter.record), so a process that
// could not record an outcome has a breaker its recorded history explains.
type breakers struct {
	cfg      Breaker
	now      func() time.Time
	byTarget map[string]*targetBreaker
}

// targetBreaker is one target's breaker.
type targetBreaker struct {
	id string
	// recording is held while a move of the breaker is recorded, so that each move starts where
	// the last recorded one ended.
	recording sync.Mutex

	mu sync.Mutex
	// c is the breaker as recorded. Written only holding recording and mu.
	c Circuit
	// trials are the half-open calls in flight.
	trials uint32
}

func newBreakers(cfg Breaker, adapter string, targets []string, now func() time.Time) *breakers {
	b := &breakers{cfg: cfg, now: now, byTarget: map[string]*targetBreaker{}}
	for _, target := range targets {
		b.byTarget[target] = &targetBreaker{id: events.AdapterID(adapter, target), c: closedCircuit()}
	}
	return b
}

// ticket is a call the breaker admitted: the generation whose outcome it is, and whether it is a
// half-open trial.
type ticket struct {
	gen   int64
	trial bool
	// direct calls (probes while forced open, recover_target's probe) count for nothing.
	direct bool
}

// admit lets a call through target's breaker, or returns an error wrapping ErrBreakerOpen. A
// command is refused while the breaker is forced open; a scheduled probe (probe) then goes to the
// target directly, counting for nothing, so that a recovery shows. Every admitted ticket must be
// given back with done.
func (b *breakers) admit(target string, probe bool) (ticket, error) {
	tb := b.byTarget[target]
	tb.mu.Lock()
	defer tb.mu.Unlock()
	c := tb.c
	if c.ForcedOpen {
		if probe {
			return ticket{direct: true}, nil
		}
		reason := c.Forced
		if reason == "" {
			reason = "no reason given"
		}
		return ticket{}, fmt.Errorf("%w for %s: forced open (%s)", ErrBreakerOpen, tb.id, reason)
	}
	switch c.Effective(b.cfg, b.now()) {
	case events.BreakerOpen:
		return ticket{}, fmt.Errorf("%w for %s since %d failures in a row", ErrBreakerOpen, tb.id, c.Failures)
	case events.BreakerHalfOpen:
		if tb.trials >= b.cfg.HalfOpenCalls {
			return ticket{}, fmt.Errorf("%w for %s: half-open, trial call in flight", ErrBreakerOpen, tb.id)
		}
		tb.trials++
		return ticket{gen: c.Generation, trial: true}, nil
	}
	return ticket{gen: c.Generation}, nil
}

// done gives an admitted ticket back.
func (b *breakers) done(target string, t ticket) {
	if !t.trial {
		return
	}
	tb := b.byTarget[target]
	tb.mu.Lock()
	tb.trials--
	tb.mu.Unlock()
}

// circuit is target's breaker as recorded.
func (b *breakers) circuit(target string) Circuit {
	tb := b.byTarget[target]
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.c
}

// state is target's breaker state now.
func (b *breakers) state(target string) events.BreakerState {
	return b.circuit(target).Effective(b.cfg, b.now())
}

// fold is how a recorded outcome moves a breaker.
type fold func(c Circuit, now time.Time) (Circuit, []move)

// outcomeOf is the fold of a call admitted with t that ended in o.
func (b *breakers) outcomeOf(t ticket, o outcome) fold {
	return func(c Circuit, now time.Time) (Circuit, []move) {
		if t.direct {
			return c, nil
		}
		return c.Fold(b.cfg, t.gen, o, now)
	}
}

// settle records a move of target's breaker: it computes the move from the breaker as recorded,
// calls save with the new breaker and the events that record the move, and keeps the new breaker
// when save returns true (the move was recorded). Moves of one target are recorded one at a time.
func (b *breakers) settle(target string, f fold, save func(next Circuit, changed bool, changes []events.Message) (bool, error)) error {
	tb := b.byTarget[target]
	tb.recording.Lock()
	defer tb.recording.Unlock()
	cur := b.circuit(target)
	next, moves := f(cur, b.now())
	kept, err := save(next, next != cur, changes(tb.id, moves))
	if err != nil || !kept {
		return err
	}
	tb.mu.Lock()
	tb.c = next
	tb.mu.Unlock()
	return nil
}

// load replaces target's breaker by c, as recorded by the target's previous owner.
func (b *breakers) load(target string, c Circuit) {
	tb := b.byTarget[target]
	tb.recording.Lock()
	defer tb.recording.Unlock()
	tb.mu.Lock()
	tb.c = c
	tb.mu.Unlock()
}

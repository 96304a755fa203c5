package effect_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/effect"
)

var errDown = errors.New("connection refused")

func all(error) bool { return true }

func fail() error { return errDown }

func succeed() error { return nil }

// moves are the recorded state changes as "from→to".
func moves(changes []events.CircuitBreakerStateChanged) []string {
	out := []string{}
	for _, c := range changes {
		out = append(out, string(c.From)+"→"+string(c.To))
	}
	return out
}

func TestForceOpen_from_each_state(t *testing.T) {
	tests := []struct {
		name       string
		cfg        effect.Breaker
		setup      func(b effect.TargetBreaker)
		wantWas    events.BreakerState
		wantMoves  []string
		wantReason string
	}{
		{
			name:       "closed",
			setup:      func(effect.TargetBreaker) {},
			wantWas:    events.BreakerClosed,
			wantMoves:  []string{"closed→open"},
			wantReason: "failover saga s1",
		},
		{
			name:  "opened_by_failures",
			cfg:   effect.Breaker{Failures: 2, OpenFor: time.Hour},
			setup: func(b effect.TargetBreaker) { _ = b.Call(all, fail); _ = b.Call(all, fail) },
			// already open: forcing it changes nothing anyone sees
			wantWas:    events.BreakerOpen,
			wantMoves:  []string{},
			wantReason: "failover saga s1",
		},
		{
			name: "half_open",
			cfg:  effect.Breaker{Failures: 1, OpenFor: 20 * time.Millisecond},
			setup: func(b effect.TargetBreaker) {
				_ = b.Call(all, fail)
				time.Sleep(30 * time.Millisecond)
			},
			wantWas:    events.BreakerHalfOpen,
			wantMoves:  []string{"open→half_open", "half_open→open"},
			wantReason: "failover saga s1",
		},
		{
			name:       "already_forced",
			setup:      func(b effect.TargetBreaker) { b.ForceOpen("the first reason") },
			wantWas:    events.BreakerOpen,
			wantMoves:  []string{},
			wantReason: "the first reason",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := effect.NewTargetBreaker(tt.cfg)
			tt.setup(b)
			b.Take()

			require.Equal(t, tt.wantWas, b.ForceOpen("failover saga s1"))

			require.Equal(t, tt.wantMoves, moves(b.Take()))
			require.Equal(t, events.BreakerOpen, b.State())
			err := b.Refuse()
			require.ErrorIs(t, err, effect.ErrBreakerOpen)
			require.ErrorContains(t, err, "consul/agent: forced open ("+tt.wantReason+")")
		})
	}
}

func TestReset_closes_from_each_state_with_zero_counts(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(b effect.TargetBreaker)
		wantWas   events.BreakerState
		wantMoves []string
	}{
		{name: "closed", setup: func(effect.TargetBreaker) {}, wantWas: events.BreakerClosed, wantMoves: []string{}},
		{
			name:      "closed_with_failures_counted",
			setup:     func(b effect.TargetBreaker) { _ = b.Call(all, fail); _ = b.Call(all, fail) },
			wantWas:   events.BreakerClosed,
			wantMoves: []string{},
		},
		{
			name:      "forced_open",
			setup:     func(b effect.TargetBreaker) { b.ForceOpen("") },
			wantWas:   events.BreakerOpen,
			wantMoves: []string{"open→closed"},
		},
		{
			name: "opened_by_failures",
			setup: func(b effect.TargetBreaker) {
				for range 3 {
					_ = b.Call(all, fail)
				}
			},
			wantWas:   events.BreakerOpen,
			wantMoves: []string{"open→closed"},
		},
		{
			name: "opened_by_failures_then_forced",
			setup: func(b effect.TargetBreaker) {
				for range 3 {
					_ = b.Call(all, fail)
				}
				b.ForceOpen("")
			},
			wantWas:   events.BreakerOpen,
			wantMoves: []string{"open→closed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := effect.NewTargetBreaker(effect.Breaker{Failures: 3, OpenFor: time.Hour})
			tt.setup(b)
			b.Take()

			require.Equal(t, tt.wantWas, b.Reset())

			changes := b.Take()
			require.Equal(t, tt.wantMoves, moves(changes))
			for _, c := range changes {
				require.Zero(t, c.ConsecutiveFailures)
			}
			require.Equal(t, events.BreakerClosed, b.State())
			require.NoError(t, b.Refuse())
			require.Equal(t, events.BreakerClosed, b.Reset(), "closing again changes nothing")
			require.Empty(t, b.Take())

			// the counts start again from zero: it takes the configured failures to open it
			for range 2 {
				require.ErrorIs(t, b.Call(all, fail), errDown)
			}
			require.Equal(t, events.BreakerClosed, b.State())
			require.ErrorIs(t, b.Call(all, fail), errDown)
			require.Equal(t, events.BreakerOpen, b.State())
			require.Equal(t, []string{"closed→open"}, moves(b.Take()))
		})
	}
}

// While forced open, scheduled probes still reach the target (even when the gobreaker had opened
// and would hold them back) and move nothing; closing the breaker lets commands through again.
func TestForcedOpen_probes_reach_the_target_and_move_nothing(t *testing.T) {
	b := effect.NewTargetBreaker(effect.Breaker{Failures: 1, OpenFor: time.Hour})
	_ = b.Call(all, fail)
	require.ErrorIs(t, b.Probe(succeed), effect.ErrBreakerOpen, "the open gobreaker holds probes back")
	b.ForceOpen("maintenance")
	b.Take()

	probes := 0
	for range 5 {
		require.ErrorIs(t, b.Probe(func() error { probes++; return errDown }), errDown)
	}
	require.NoError(t, b.Probe(func() error { probes++; return nil }))
	require.Equal(t, 6, probes, "every probe reached the target")
	require.Empty(t, b.Take(), "no state change while forced")
	require.Equal(t, events.BreakerOpen, b.State())

	require.Equal(t, events.BreakerOpen, b.Reset())
	require.Equal(t, []string{"open→closed"}, moves(b.Take()))
	require.NoError(t, b.Call(all, succeed), "commands go through again")
}

// A call that started on the gobreaker close_breaker replaced ends there: its failure neither
// opens the new breaker nor is recorded.
func TestReset_a_call_in_flight_on_the_replaced_breaker_is_not_heard(t *testing.T) {
	b := effect.NewTargetBreaker(effect.Breaker{Failures: 1, OpenFor: time.Hour})
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- b.Call(all, func() error {
			close(started)
			<-release
			return errDown
		})
	}()
	<-started
	b.ForceOpen("")
	require.Equal(t, events.BreakerOpen, b.Reset())
	close(release)
	require.ErrorIs(t, <-done, errDown)

	require.Equal(t, events.BreakerClosed, b.State())
	require.Equal(t, []string{"closed→open", "open→closed"}, moves(b.Take()))
	require.NoError(t, b.Call(all, succeed))
}

// Commands, probes, forcing and resetting at once (run with -race): the recorded changes still
// form one chain, each starting where the last ended.
func TestBreaker_changes_form_one_chain_under_concurrency(t *testing.T) {
	b := effect.NewTargetBreaker(effect.Breaker{Failures: 2, OpenFor: time.Millisecond})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 300 {
				switch (w + i) % 7 {
				case 0:
					b.ForceOpen("test")
				case 1:
					b.Reset()
				case 2:
					_ = b.Probe(fail)
				case 3:
					_ = b.Refuse()
					_ = b.State()
				case 4, 5:
					_ = b.Call(all, fail)
				default:
					_ = b.Call(all, succeed)
				}
			}
		})
	}
	wg.Wait()
	b.Reset()

	changes := b.Take()
	require.NotEmpty(t, changes)
	require.Equal(t, events.BreakerClosed, changes[0].From)
	for i := 1; i < len(changes); i++ {
		require.Equal(t, changes[i-1].To, changes[i].From, "change %d: %v", i, moves(changes[i-1:i+1]))
		require.NotEqual(t, changes[i].From, changes[i].To)
	}
	require.Equal(t, events.BreakerClosed, changes[len(changes)-1].To)
	require.Equal(t, events.BreakerClosed, b.State())
}

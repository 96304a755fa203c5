package effect

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/consumer"
)

var (
	errDown   = errors.New("connection refused")
	errSyntax = errors.New("syntax error at or near \"SELEC\"")
)

func transient(err error) bool { return errors.Is(err, errDown) }

func TestRetry_retries_transient_errors_only_and_stops_at_the_attempts(t *testing.T) {
	r := Retry{Attempts: 4, Backoff: consumer.Backoff{Initial: time.Millisecond, Max: time.Millisecond, Multiplier: 2, Jitter: 0.1}}
	cases := []struct {
		name         string
		errs         []error
		wantAttempts int
		wantErr      error
	}{
		{"success at once", []error{nil}, 1, nil},
		{"transient then success", []error{errDown, errDown, nil}, 3, nil},
		{"transient every time", []error{errDown, errDown, errDown, errDown, errDown}, 4, errDown},
		{"permanent is not retried", []error{errSyntax, nil}, 1, errSyntax},
		{"transient then permanent", []error{errDown, errSyntax, nil}, 2, errSyntax},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			n, err := r.Do(context.Background(), transient, func(context.Context) error {
				calls++
				return c.errs[calls-1]
			})
			require.Equal(t, c.wantAttempts, n)
			require.Equal(t, c.wantAttempts, calls)
			require.ErrorIs(t, err, c.wantErr)
		})
	}
}

func TestRetry_stops_waiting_when_the_context_ends(t *testing.T) {
	r := Retry{Attempts: 10, Backoff: consumer.Backoff{Initial: time.Hour, Max: time.Hour, Multiplier: 2}}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	n, err := r.Do(ctx, transient, func(context.Context) error {
		calls++
		cancel()
		return errDown
	})
	require.Equal(t, 1, n)
	require.ErrorIs(t, err, errDown)
}

func newTestBreakers(failures uint32, openFor time.Duration) TargetBreaker {
	return NewTargetBreaker(Breaker{Failures: failures, OpenFor: openFor, HalfOpenCalls: 1})
}

func transitions(changes []events.CircuitBreakerStateChanged) [][3]any {
	var out [][3]any
	for _, c := range changes {
		out = append(out, [3]any{c.From, c.To, c.ConsecutiveFailures})
	}
	return out
}

func TestBreaker_opens_after_the_configured_failures_then_half_opens_and_closes(t *testing.T) {
	b := newTestBreakers(3, 20*time.Millisecond)
	all := func(error) bool { return true }
	for range 3 {
		require.ErrorIs(t, b.Call(all, func() error { return errDown }), errDown)
	}
	require.Equal(t, events.BreakerOpen, b.State())
	calls := 0
	err := b.Call(all, func() error { calls++; return nil })
	require.ErrorIs(t, err, ErrBreakerOpen, "an open breaker refuses the call")
	require.Zero(t, calls)
	first := b.Take()
	require.Equal(t, [][3]any{{events.BreakerClosed, events.BreakerOpen, int64(3)}}, transitions(first))
	require.Equal(t, "consul/agent", first[0].AdapterID)

	time.Sleep(30 * time.Millisecond)
	require.Equal(t, events.BreakerHalfOpen, b.State(), "open for longer than OpenFor reads half-open")
	require.NoError(t, b.Call(all, func() error { calls++; return nil }))
	require.Equal(t, 1, calls, "the trial call goes through")
	require.Equal(t, events.BreakerClosed, b.State())
	require.Equal(t, [][3]any{
		{events.BreakerOpen, events.BreakerHalfOpen, int64(3)},
		{events.BreakerHalfOpen, events.BreakerClosed, int64(0)},
	}, transitions(b.Take()))
	require.Empty(t, b.Take(), "taken changes are gone")
}

func TestBreaker_a_failed_trial_opens_it_again(t *testing.T) {
	b := newTestBreakers(2, 20*time.Millisecond)
	all := func(error) bool { return true }
	for range 2 {
		_ = b.Call(all, func() error { return errDown })
	}
	time.Sleep(30 * time.Millisecond)
	require.ErrorIs(t, b.Call(all, func() error { return errDown }), errDown)
	require.Equal(t, events.BreakerOpen, b.State())
	require.Equal(t, [][3]any{
		{events.BreakerClosed, events.BreakerOpen, int64(2)},
		{events.BreakerOpen, events.BreakerHalfOpen, int64(2)},
		{events.BreakerHalfOpen, events.BreakerOpen, int64(3)},
	}, transitions(b.Take()))
}

// Half-open lets HalfOpenCalls trial calls through at once; the others are refused until one
// ends.
func TestBreaker_half_open_lets_one_trial_through_at_a_time(t *testing.T) {
	b := newTestBreakers(1, 10*time.Millisecond)
	all := func(error) bool { return true }
	_ = b.Call(all, func() error { return errDown })
	time.Sleep(20 * time.Millisecond)
	inTrial, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- b.Call(all, func() error { close(inTrial); <-release; return nil })
	}()
	<-inTrial
	require.ErrorIs(t, b.Call(all, func() error { return nil }), ErrBreakerOpen, "a second trial waits")
	close(release)
	require.NoError(t, <-done)
	require.Equal(t, events.BreakerClosed, b.State())
}

func TestBreaker_errors_that_are_not_the_targets_fault_do_not_open_it(t *testing.T) {
	b := newTestBreakers(2, time.Hour)
	for range 5 {
		err := b.Call(transient, func() error { return errSyntax })
		require.ErrorIs(t, err, errSyntax, "the error comes back unwrapped")
	}
	require.Equal(t, events.BreakerClosed, b.State())
	require.Empty(t, b.Take())
	// and they break a run of failures: two in a row are needed
	_ = b.Call(transient, func() error { return errDown })
	_ = b.Call(transient, func() error { return errSyntax })
	_ = b.Call(transient, func() error { return errDown })
	require.Equal(t, events.BreakerClosed, b.State())
}

// An outcome whose recording failed moves nothing: the breaker is what the recorded history
// says, so failures that could not be recorded do not open it, nor keep refusing afterwards.
func TestBreaker_outcomes_that_could_not_be_recorded_move_nothing(t *testing.T) {
	b := newTestBreakers(2, time.Hour)
	all := func(error) bool { return true }
	b.FailRecording(true)
	for range 5 {
		require.ErrorIs(t, b.Call(all, func() error { return errDown }), errDown)
	}
	require.Equal(t, events.BreakerClosed, b.State(), "five failures, none recorded")
	require.Empty(t, b.Take())
	b.FailRecording(false)
	require.NoError(t, b.Call(all, func() error { return nil }), "commands go through once the database is back")
	_ = b.Call(all, func() error { return errDown })
	require.Equal(t, events.BreakerClosed, b.State(), "the count starts from what was recorded")
	_ = b.Call(all, func() error { return errDown })
	require.Equal(t, events.BreakerOpen, b.State())
	require.Equal(t, [][3]any{{events.BreakerClosed, events.BreakerOpen, int64(2)}}, transitions(b.Take()))
}

// The breaker survives the process as a value: what one owner recorded is what the next loads.
func TestCircuit_round_trips_through_JSON(t *testing.T) {
	c, _ := closedCircuit().ForceOpen(Breaker{Failures: 1, OpenFor: time.Hour}, "maintenance", time.Unix(100, 0).UTC())
	raw, err := json.Marshal(c)
	require.NoError(t, err)
	var back Circuit
	require.NoError(t, json.Unmarshal(raw, &back))
	require.Equal(t, c, back)
	require.True(t, back.ForcedOpen)
	require.Equal(t, "maintenance", back.Forced)
}

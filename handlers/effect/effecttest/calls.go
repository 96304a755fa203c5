package effecttest

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/effect"
	"github.com/omninode/omnibase-infra/outbox"
)

// grace is how long past its deadline a call may take to return: a cancel request to send, a
// goroutine to be scheduled on a busy machine.
const grace = time.Second

// commandTimeout bounds the commands the checks send when nothing slows the server down.
const commandTimeout = 20 * time.Second

// outcome is what one call to the driver gave, and when.
type outcome[T any] struct {
	value    T
	err      error
	started  time.Time
	returned time.Time
	panicked string // the panic and its stack, when the call panicked
}

func (o outcome[T]) took() time.Duration { return o.returned.Sub(o.started) }

// goCall runs fn in a goroutine of its own, so that a call that hangs fails the check saying so
// rather than holding the suite until the test binary's timeout, and a panic fails it with the
// panic rather than ending the binary.
func goCall[T any](fn func() (T, error)) <-chan outcome[T] {
	ch := make(chan outcome[T], 1)
	go func() {
		o := outcome[T]{started: time.Now()}
		defer func() {
			if p := recover(); p != nil {
				o.panicked = fmt.Sprintf("%v\n%s", p, debug.Stack())
			}
			o.returned = time.Now()
			ch <- o
		}()
		o.value, o.err = fn()
	}()
	return ch
}

// await waits up to limit for the call on ch, failing the check when it hangs or panicked.
func await[T any](t *testing.T, ch <-chan outcome[T], limit time.Duration, what string) outcome[T] {
	t.Helper()
	select {
	case o := <-ch:
		require.Empty(t, o.panicked, "%s panicked", what)
		return o
	case <-time.After(limit):
		t.Fatalf("%s did not return within %s: it hangs instead of failing", what, limit)
		panic("unreachable")
	}
}

// probe probes the target with the harness's probe timeout, and waits for it to return by then.
func (h Harness) probe(t *testing.T, what string) outcome[effect.Health] {
	t.Helper()
	return await(t, goCall(func() (effect.Health, error) {
		ctx, cancel := context.WithTimeout(context.Background(), h.ProbeTimeout)
		defer cancel()
		return h.Driver.Probe(ctx, h.Target)
	}), h.ProbeTimeout+grace, what)
}

// execute runs cmd on the target with the given timeout, and waits for it to return by then.
func (h Harness) execute(t *testing.T, cmd events.Command, timeout time.Duration, what string) outcome[events.Result] {
	t.Helper()
	return await(t, goCall(func() (events.Result, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return h.Driver.Execute(ctx, h.Target, cmd)
	}), timeout+grace, what)
}

// requireHealthy fails the check unless a probe of the target succeeds: every check starts from a
// target that answers, so what it sees afterwards is its own doing.
func (h Harness) requireHealthy(t *testing.T) {
	t.Helper()
	p := h.probe(t, "Probe of the running server")
	require.NoError(t, p.err, "the harness's target must be healthy before the check: is its server running, and is %q configured?", h.Target)
}

// stall makes the server hold its requests, when the harness has a Stall, and returns how to let
// it answer again; that also runs when the check ends, so a failed check leaves no server stuck.
func (h Harness) stall(t *testing.T) (resume func()) {
	t.Helper()
	if h.Stall == nil {
		return func() {}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := h.Stall(ctx)
	require.NoError(t, err, "could not stall the server")
	var once sync.Once
	resume = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			require.NoError(t, r(ctx), "could not let the stalled server answer again")
		})
	}
	t.Cleanup(resume)
	return resume
}

// runner is the effect.Adapter running the harness's driver, recording into the control
// database on a topic of the check's own.
type runner struct {
	*effect.Adapter
	topic string
}

func (h Harness) runner(t *testing.T) runner {
	t.Helper()
	topic := "effecttest-" + watermill.NewShortUUID()
	a, err := effect.New(h.Driver, effect.Config{EventsTopic: topic, ProbeTimeout: h.ProbeTimeout}, h.Control,
		events.Catalog(), h.Logger)
	require.NoError(t, err)
	return runner{Adapter: a, topic: topic}
}

// probeRecorded probes the target through the runner and returns the health report it recorded
// in the control database for that probe, read back from the event log.
func (r runner) probeRecorded(t *testing.T, h Harness) events.AdapterHealthReported {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), h.ProbeTimeout+commandTimeout)
	defer cancel()
	origin := events.NewOrigin()
	require.NoError(t, r.Probe(ctx, h.Target, origin),
		"Adapter.Probe must record the probe's outcome, healthy or not; its error is about recording only")
	logged, err := outbox.ReadLog(ctx, h.Control, r.topic, 0, 1000)
	require.NoError(t, err)
	var reports []events.AdapterHealthReported
	for _, e := range logged {
		env, m, err := events.Catalog().Decode(e.Message)
		require.NoError(t, err, "event %s on %s", e.Message.UUID, r.topic)
		if report, ok := m.(events.AdapterHealthReported); ok && env.CorrelationID == origin.CorrelationID {
			reports = append(reports, report)
		}
	}
	require.Len(t, reports, 1, "one adapter_health_reported per probe, in the event log of %s", r.topic)
	require.Equal(t, events.AdapterID(h.Driver.Adapter(), h.Target), reports[0].AdapterID)
	return reports[0]
}

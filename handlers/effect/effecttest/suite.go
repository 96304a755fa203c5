package effecttest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/effect"
)

// RunDriverSuite checks that the driver of the harnesses newHarness makes keeps the contract of
// effect.Driver against its real server. newHarness is called once per check, in the check's own
// subtest; what it starts it stops in t.Cleanup. The suite closes the driver before those run.
func RunDriverSuite(t *testing.T, newHarness func(t *testing.T) Harness) {
	checks := []struct {
		name  string
		check func(t *testing.T, h Harness)
	}{
		{"stopped_server_is_probed_unhealthy_at_once_and_healthy_once_started", checkStoppedServer},
		{"a_call_past_its_deadline_on_a_slow_server_is_a_transient_timeout", checkDeadline},
		{"an_error_the_server_refuses_is_not_transient", checkPermanent},
		{"close_waits_for_the_call_in_flight_then_refuses_calls", checkClose},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			h.setDefaults()
			require.NoError(t, h.Validate(), "the harness is incomplete")
			t.Cleanup(h.Driver.Close)
			h.requireHealthy(t)
			c.check(t, h)
		})
	}
}

// checkStoppedServer: with the server stopped, a probe fails within its timeout and the runner
// records the target unhealthy; the errors of probes, commands and initialization are
// transient (a refused connection goes away when the server is back); once the server runs
// again, a probe is healthy again.
func checkStoppedServer(t *testing.T, h Harness) {
	r := h.runner(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	require.NoError(t, h.Server.Stop(ctx), "could not stop the server")

	p := h.probe(t, "Probe of a stopped server")
	require.Error(t, p.err, "a probe of a stopped server must fail: that is how the target is reported unhealthy")
	require.Less(t, p.took(), h.ProbeTimeout+grace, "a probe of a stopped server must give up within its timeout (%s)", h.ProbeTimeout)
	require.True(t, h.Driver.Transient(p.err), "a probe's error when the server is stopped must be transient (connection refused): %v", p.err)
	t.Logf("probe of the stopped server failed after %s: %v", p.took(), p.err)

	e := h.execute(t, h.Slow, commandTimeout, "Execute on a stopped server")
	require.Error(t, e.err, "%s must fail while the server is stopped", h.Slow.Kind())
	require.True(t, h.Driver.Transient(e.err),
		"a command's error when the server is stopped must be transient, so the runner retries it and counts it against the breaker: %v", e.err)
	t.Logf("%s on the stopped server failed after %s: %v", h.Slow.Kind(), e.took(), e.err)
	if init, ok := h.Driver.(effect.Initializer); ok {
		i := await(t, goCall(func() (events.Result, error) {
			ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
			defer cancel()
			return init.Initialize(ctx, h.Target)
		}), commandTimeout+grace, "Initialize on a stopped server")
		require.Error(t, i.err, "Initialize must fail while the server is stopped")
		require.True(t, h.Driver.Transient(i.err), "Initialize's error when the server is stopped must be transient: %v", i.err)
	}

	down := r.probeRecorded(t, h)
	require.False(t, down.Healthy, "the runner must record a stopped server as unhealthy")
	require.NotEmpty(t, down.Error, "an unhealthy report must say why")

	require.NoError(t, h.Server.Start(ctx), "could not start the server again")
	deadline := time.Now().Add(time.Minute)
	for {
		p := h.probe(t, "Probe of the server started again")
		if p.err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline),
			"a probe must be healthy again once the server runs again; a minute after it started: %v", p.err)
		time.Sleep(200 * time.Millisecond)
	}
	up := r.probeRecorded(t, h)
	require.True(t, up.Healthy, "the runner must record the server started again as healthy: %s", up.Error)
	require.Empty(t, up.Error)
}

// deadlineAfter is the deadline of the call the deadline check makes; with grace it stays well
// short of MinSlowFor.
const deadlineAfter = 500 * time.Millisecond

// checkDeadline: a call whose deadline passes while the server is still busy with it returns at
// the deadline, with an error that says it timed out (the runner reports "timed out after …"
// only for errors.Is(err, context.DeadlineExceeded)) and that is transient.
func checkDeadline(t *testing.T, h Harness) {
	resume := h.stall(t)
	defer resume()
	e := h.execute(t, h.Slow, deadlineAfter, "a call past its deadline")
	require.Error(t, e.err, "%s must fail when its deadline (%s) passes while the server takes %s", h.Slow.Kind(), deadlineAfter, h.SlowFor)
	require.Less(t, e.took(), deadlineAfter+grace,
		"a call must return when its deadline passes, not when the server answers: it took %s, its deadline was %s", e.took(), deadlineAfter)
	require.ErrorIs(t, e.err, context.DeadlineExceeded, "a call stopped by its deadline must say so")
	require.True(t, h.Driver.Transient(e.err), "a timeout must be transient: %v", e.err)
	t.Logf("%s with a %s deadline failed after %s: %v", h.Slow.Kind(), deadlineAfter, e.took(), e.err)
}

// checkPermanent: what the server refuses for what the command is fails, is not transient (it
// is neither retried nor counted against the breaker), and leaves the target healthy.
func checkPermanent(t *testing.T, h Harness) {
	e := h.execute(t, h.Permanent, commandTimeout, "the command the server refuses")
	require.Error(t, e.err, "the server must refuse %s", h.Permanent.Kind())
	require.False(t, h.Driver.Transient(e.err),
		"an error the server gives for what the command is must not be transient, or the runner retries it and counts it against the target: %v", e.err)
	t.Logf("%s failed: %v", h.Permanent.Kind(), e.err)
	h.requireHealthy(t)
}

// checkClose: Close called while a call is in flight returns only after that call returned, and
// the call gets its whole answer; calls after Close are refused at once with ErrDriverClosed,
// and a second Close returns.
func checkClose(t *testing.T, h Harness) {
	resume := h.stall(t)
	call := goCall(func() (events.Result, error) {
		ctx, cancel := context.WithTimeout(context.Background(), h.SlowFor+commandTimeout)
		defer cancel()
		return h.Driver.Execute(ctx, h.Target, h.Slow)
	})
	settle := h.SlowFor / 6 // the call is on the server by then
	time.Sleep(settle)
	closeCalled := time.Now()
	closed := goCall(func() (struct{}, error) { h.Driver.Close(); return struct{}{}, nil })
	if h.Stall != nil {
		time.Sleep(h.SlowFor - settle)
		resume()
	}

	c := await(t, call, h.SlowFor+commandTimeout+grace, "the call in flight")
	cl := await(t, closed, h.SlowFor+commandTimeout+grace, "Close")
	require.True(t, closeCalled.Before(c.returned),
		"the slow call returned %s after it started, before Close was called: make Slow slower", c.took())
	require.NoError(t, c.err, "the call in flight when Close was called must run to its end, not be cut short")
	if h.CheckSlow != nil {
		h.CheckSlow(t, c.value)
	}
	// The call's own goroutine stamps its return after the driver has counted it done, so Close
	// may return a moment before that stamp; a Close that did not wait returns SlowFor early.
	const stamping = 20 * time.Millisecond
	require.False(t, cl.returned.Before(c.returned.Add(-stamping)),
		"Close returned %s before the call in flight did: it must wait for calls in flight", c.returned.Sub(cl.returned))
	t.Logf("Close called %s into a %s call, returned %s after it", closeCalled.Sub(c.started), c.took(), cl.returned.Sub(c.returned))

	e := h.execute(t, h.Slow, commandTimeout, "Execute after Close")
	require.ErrorIs(t, e.err, effect.ErrDriverClosed, "a command after Close must be refused")
	require.Less(t, e.took(), grace, "a command after Close must be refused at once")
	p := h.probe(t, "Probe after Close")
	require.ErrorIs(t, p.err, effect.ErrDriverClosed, "a probe after Close must be refused")
	await(t, goCall(func() (struct{}, error) { h.Driver.Close(); return struct{}{}, nil }), grace, "a second Close")
}

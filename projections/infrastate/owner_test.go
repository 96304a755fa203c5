package infrastate_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/projections/infrastate"
)

func owner(sec int, reason, who, previous string, token int64) input {
	return input{at: at(sec), m: events.TargetOwnershipChanged{AdapterID: subject, Owner: who, Previous: previous,
		Token: token, Reason: reason, ChangedAt: at(sec)}}
}

// The state shows who owns the target since when; a change of owner with an older token, a
// release by a process that is not the owner, and a redelivered change are stale.
func TestReducer_folds_the_owner_by_token(t *testing.T) {
	r := infrastate.Reducer{Thresholds: infrastate.DefaultThresholds()}
	s := infrastate.NewState(subject)
	steps := []struct {
		in        input
		wantOwner string
		wantSince int
		wantToken int64
	}{
		{owner(1, events.OwnershipAcquired, "a", "", 1), "a", 1, 1},
		{owner(2, events.OwnershipAcquired, "a", "", 1), "a", 1, 1},   // redelivered
		{owner(5, events.OwnershipTakenOver, "b", "a", 2), "b", 5, 2}, // a died
		{owner(6, events.OwnershipReleased, "", "a", 1), "b", 5, 2},   // a's late release
		{owner(7, events.OwnershipTakenOver, "c", "a", 2), "b", 5, 2}, // same token again
		{owner(9, events.OwnershipReleased, "", "b", 2), "", 9, 2},    // b stops
		{owner(9, events.OwnershipReleased, "", "b", 2), "", 9, 2},    // redelivered
		{owner(10, events.OwnershipAcquired, "c", "", 3), "c", 10, 3}, // c takes it
	}
	for i, st := range steps {
		var intents []events.IntentMessage
		s, intents = r.Reduce(s, envelope(st.in), st.in.m)
		require.Empty(t, intents, "step %d", i)
		require.Equal(t, st.wantOwner, s.Owner, "step %d", i)
		require.Equal(t, at(st.wantSince), s.OwnerSince, "step %d", i)
		require.Equal(t, st.wantToken, s.OwnerToken, "step %d", i)
	}
}

// A probe a command asked for is shown but not counted: only the owner's scheduled probes move
// the hysteresis, so a workflow probing a failing target does not make it critical sooner.
func TestReducer_requested_probes_do_not_count_towards_the_hysteresis(t *testing.T) {
	r := infrastate.Reducer{Thresholds: infrastate.Thresholds{DegradedAfter: 2, CriticalAfter: 4, HealthyAfter: 2}}
	s := infrastate.NewState(subject)
	s, _ = r.Reduce(s, envelope(ok(1)), ok(1).m)
	require.Equal(t, infrastate.StatusHealthy, s.Status)
	for sec := 2; sec < 12; sec++ {
		in := fail(sec)
		p := in.m.(events.AdapterHealthReported)
		p.Requested = true
		in.m = p
		s, _ = r.Reduce(s, envelope(in), in.m)
	}
	require.Equal(t, infrastate.StatusHealthy, s.Status, "ten requested probes failed, none counted")
	require.Zero(t, s.ConsecutiveFailures)
	require.Equal(t, at(11), s.LastProbedAt, "the newest probe is shown")
	require.Equal(t, int64(11), s.Probes)

	s, _ = r.Reduce(s, envelope(fail(12)), fail(12).m)
	s, intents := r.Reduce(s, envelope(fail(13)), fail(13).m)
	require.Equal(t, infrastate.StatusDegraded, s.Status, "two scheduled failures make it degraded")
	require.Contains(t, names(intents), "infrastructure_health_degraded")
}

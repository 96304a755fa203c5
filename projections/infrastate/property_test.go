package infrastate_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/projections/infrastate"
)

// delivery is one message as the projection receives it.
type delivery struct {
	env events.Envelope
	m   events.Message
}

// generator makes random but plausible event streams of one target.
type generator struct {
	rng *rand.Rand
}

// stream is n events of adapterID, their times never going back (sometimes standing still).
func (g generator) stream(adapterID string, n int) []delivery {
	adapter, target, _ := strings.Cut(adapterID, "/")
	at := t0
	failing := false
	breakerState := events.BreakerClosed
	var waits int64
	var out []delivery
	for i := range n {
		if g.rng.IntN(20) > 0 { // one event in 20 has the time of the one before
			at = at.Add(time.Duration(1+g.rng.IntN(4000)) * time.Millisecond)
		}
		var m events.Message
		switch k := g.rng.IntN(10); {
		case k < 6:
			if g.rng.IntN(6) == 0 {
				failing = !failing
			}
			healthy := !failing
			if g.rng.IntN(10) == 0 {
				healthy = !healthy
			}
			p := events.AdapterHealthReported{AdapterID: adapterID, Adapter: adapter, Target: target, Healthy: healthy,
				LatencyMicros: int64(100 + g.rng.IntN(5000)), ProbedAt: at}
			if !healthy {
				p.Error = "connection refused"
			}
			if g.rng.IntN(3) == 0 {
				p.Details = map[string]string{"leader": fmt.Sprintf("n%d", g.rng.IntN(3))}
			}
			m = p
		case k < 8:
			others := map[events.BreakerState][2]events.BreakerState{
				events.BreakerClosed:   {events.BreakerOpen, events.BreakerHalfOpen},
				events.BreakerOpen:     {events.BreakerHalfOpen, events.BreakerClosed},
				events.BreakerHalfOpen: {events.BreakerOpen, events.BreakerClosed},
			}[breakerState]
			to := others[g.rng.IntN(2)]
			if g.rng.IntN(10) == 0 {
				to = breakerState // a move to the state it is in
			}
			m = events.CircuitBreakerStateChanged{AdapterID: adapterID, From: breakerState, To: to,
				ConsecutiveFailures: int64(g.rng.IntN(6)), ChangedAt: at}
			breakerState = to
		default:
			maxConns := int64(5 + g.rng.IntN(6))
			acquired := g.rng.Int64N(maxConns + 1)
			if g.rng.IntN(3) == 0 {
				acquired = maxConns
			}
			waits += g.rng.Int64N(3)
			if g.rng.IntN(30) == 0 {
				waits = 0 // the adapter restarted
			}
			m = events.ConnectionPoolStatsReported{AdapterID: adapterID, Acquired: acquired, Idle: maxConns - acquired,
				Total: maxConns, Max: maxConns, WaitCount: waits, ReportedAt: at}
		}
		env := events.Envelope{ID: fmt.Sprintf("%s#%d", adapterID, i), Kind: m.Kind(), CorrelationID: "corr",
			OccurredAt: at, Key: adapterID}
		out = append(out, delivery{env: env, m: m})
	}
	return out
}

// messy delivers streams as a consumer may see them: interleaved at random (each target's own
// order kept), with duplicates right after the original and redeliveries of earlier events,
// of any target, later on. It also returns how many deliveries were repeats.
func (g generator) messy(streams [][]delivery) ([]delivery, int) {
	next := make([]int, len(streams))
	var out, delivered []delivery
	repeats := 0
	for {
		var open []int
		for i, s := range streams {
			if next[i] < len(s) {
				open = append(open, i)
			}
		}
		if len(open) == 0 {
			break
		}
		i := open[g.rng.IntN(len(open))]
		d := streams[i][next[i]]
		next[i]++
		out, delivered = append(out, d), append(delivered, d)
		if g.rng.IntN(6) == 0 {
			out = append(out, d)
			repeats++
		}
		if g.rng.IntN(6) == 0 {
			out = append(out, delivered[g.rng.IntN(len(delivered))])
			repeats++
		}
	}
	for range g.rng.IntN(5) {
		out = append(out, delivered[g.rng.IntN(len(delivered))])
		repeats++
	}
	return out, repeats
}

// folded is what folding a stream produced.
type folded struct {
	states map[string]infrastate.TargetState
	// intents in the order they were raised, and the ids of the events that raised any.
	intents []events.IntentMessage
	causes  map[string]bool
}

// fold folds ds per target, as the handler does; throughRow stores and loads every state as its
// JSON row between events.
func fold(t *testing.T, r infrastate.Reducer, ds []delivery, throughRow bool) folded {
	f := folded{states: map[string]infrastate.TargetState{}, causes: map[string]bool{}}
	for _, d := range ds {
		key := d.m.Key()
		s, ok := f.states[key]
		if !ok {
			s = infrastate.NewState(key)
		}
		s, intents := r.Reduce(s, d.env, d.m)
		if throughRow {
			data, err := json.Marshal(s)
			require.NoError(t, err)
			s = infrastate.TargetState{}
			require.NoError(t, json.Unmarshal(data, &s))
		}
		f.states[key] = s
		f.intents = append(f.intents, intents...)
		if len(intents) > 0 {
			f.causes[d.env.ID] = true
		}
	}
	return f
}

// byID indexes intents by id, failing on a second intent with the same id.
func byID(t *testing.T, intents []events.IntentMessage, what string) map[string]events.IntentMessage {
	t.Helper()
	out := map[string]events.IntentMessage{}
	for _, in := range intents {
		_, twice := out[in.Fields().ID]
		require.False(t, twice, "%s: intent %s %s raised twice", what, in.Kind().Name, in.Fields().ID)
		out[in.Fields().ID] = in
	}
	return out
}

// perSubject is the order in which each subject's intents were raised.
func perSubject(intents []events.IntentMessage) map[string][]string {
	out := map[string][]string{}
	for _, in := range intents {
		f := in.Fields()
		out[f.Subject] = append(out[f.Subject], in.Kind().Name+" "+f.ID)
	}
	return out
}

// A stream folded as it was written, and the same stream interleaved differently, with duplicates
// and late redeliveries, folded through the state's JSON row, end in the same states and raise the
// same intents, none twice.
func TestReducer_Reduce_property_duplicates_redeliveries_and_interleavings_change_nothing(t *testing.T) {
	seeds := 500
	if testing.Short() {
		seeds = 50
	}
	adapters := []string{events.AdapterPostgres, events.AdapterKafka, events.AdapterConsul}
	raisedKinds := map[string]int{}
	repeatsOfCauses := 0
	for seed := range uint64(seeds) {
		g := generator{rng: rand.New(rand.NewPCG(seed, 0x1f2e3d4c))}
		degraded := 1 + g.rng.IntN(3)
		r := infrastate.Reducer{Thresholds: infrastate.Thresholds{
			DegradedAfter:  degraded,
			CriticalAfter:  degraded + g.rng.IntN(3),
			HealthyAfter:   1 + g.rng.IntN(3),
			LatencyWindow:  time.Duration(5+g.rng.IntN(60)) * time.Second,
			LatencySamples: 1 + g.rng.IntN(16),
		}}
		require.NoError(t, r.Thresholds.Validate())

		var streams [][]delivery
		var clean []delivery
		for i := range 1 + g.rng.IntN(4) {
			id := events.AdapterID(adapters[i%len(adapters)], fmt.Sprintf("t%d", i))
			s := g.stream(id, 20+g.rng.IntN(100))
			streams = append(streams, s)
			clean = append(clean, s...) // one target after the other
		}
		messy, repeats := g.messy(streams)
		require.Equal(t, len(clean)+repeats, len(messy))

		want := fold(t, r, clean, false)
		got := fold(t, r, messy, true)

		require.Equal(t, want.states, got.states, "seed %d: final states", seed)
		wantByID := byID(t, want.intents, fmt.Sprintf("seed %d clean", seed))
		gotByID := byID(t, got.intents, fmt.Sprintf("seed %d messy", seed))
		require.Equal(t, wantByID, gotByID, "seed %d: intents by id", seed)
		require.Equal(t, perSubject(want.intents), perSubject(got.intents), "seed %d: each subject's intents in order", seed)

		for _, in := range want.intents {
			raisedKinds[in.Kind().Name]++
		}
		seen := map[string]bool{}
		for _, d := range messy {
			if seen[d.env.ID] && want.causes[d.env.ID] {
				repeatsOfCauses++
			}
			seen[d.env.ID] = true
		}
	}
	// The streams are worth something only if they exercise every rule.
	for _, kind := range []string{
		"infrastructure_health_degraded", "infrastructure_health_critical", "circuit_breaker_opened",
		"failover_required", "connection_pool_exhausted", "recovery_initiated",
	} {
		require.Greater(t, raisedKinds[kind], seeds/10, "%s raised often enough to matter", kind)
	}
	require.Greater(t, repeatsOfCauses, seeds, "events that raised intents come again often enough")
	t.Logf("intents raised by the clean streams: %v; repeats of intent-raising events: %d", raisedKinds, repeatsOfCauses)
}

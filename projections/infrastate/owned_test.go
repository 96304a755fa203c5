package infrastate

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/omninode/omnibase-infra/events"
)

// A replay folds with reduceOwned, which reuses the window's array; whatever the stream, it
// must reach, state by state, what the pure Reduce reaches.
func TestReduceOwned_folds_to_what_Reduce_folds(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		r := Reducer{Thresholds: DefaultThresholds()}
		r.Thresholds.LatencyWindow = time.Duration(1+rng.IntN(20)) * time.Second
		r.Thresholds.LatencySamples = 1 + rng.IntN(12)
		pure, owned := map[string]TargetState{}, map[string]TargetState{}
		at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		for i := range 2000 {
			at = at.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
			target := []string{"a", "b", "c"}[rng.IntN(3)]
			var m events.Message = events.AdapterHealthReported{AdapterID: "postgres/" + target, Adapter: events.AdapterPostgres,
				Target: target, Healthy: rng.IntN(4) > 0, Error: "refused", LatencyMicros: int64(rng.IntN(1000)), ProbedAt: at}
			if rng.IntN(10) == 0 {
				m = events.CircuitBreakerStateChanged{AdapterID: "postgres/" + target, From: events.BreakerClosed,
					To: []events.BreakerState{events.BreakerOpen, events.BreakerClosed}[rng.IntN(2)], ChangedAt: at}
			}
			key := m.Key()
			for _, states := range []map[string]TargetState{pure, owned} {
				if _, ok := states[key]; !ok {
					states[key] = NewState(key)
				}
			}
			env := events.Envelope{ID: "e", OccurredAt: at}
			pure[key], _ = r.Reduce(pure[key], env, m)
			owned[key], _ = r.reduceOwned(owned[key], env, m)
			if !reflect.DeepEqual(pure[key], owned[key]) {
				t.Fatalf("seed %d, event %d (%s): reduceOwned gave\n%+v\nReduce gave\n%+v", seed, i, key, owned[key].Latency, pure[key].Latency)
			}
		}
	}
}

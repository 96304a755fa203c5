package infrastate

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// The p95 of a window is the nearest-rank percentile of its sorted latencies, whatever their
// number, order and repetitions; kthLargest must pick the same sample a sort would.
func TestKthLargest_matches_sorting(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 19, 20, 21, 62, 100, 639, 640, 641, 1000} {
		for _, spread := range []int64{1, 5, 1_000_000} { // all equal, many repeats, mostly distinct
			samples := make([]LatencySample, n)
			values := make([]int64, n)
			for i := range samples {
				samples[i].Micros = rng.Int64N(spread)
				values[i] = samples[i].Micros
			}
			slices.Sort(values)
			for _, k := range []int{1, (n + 1) / 2, n - (95*n+99)/100 + 1, n} {
				if got, want := kthLargest(samples, k), values[n-k]; got != want {
					t.Fatalf("n=%d spread=%d: the %d-th largest is %d, kthLargest said %d", n, spread, k, want, got)
				}
			}
		}
	}
}

package infrastate_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/projections/infrastate"
)

func TestReducer_Reduce_latency_window(t *testing.T) {
	hysteresis := infrastate.DefaultThresholds()
	within := func(window time.Duration, samples int) infrastate.Thresholds {
		t := hysteresis
		t.LatencyWindow, t.LatencySamples = window, samples
		return t
	}
	// sample is a successful probe at sec that took us.
	type sample struct {
		sec int
		us  int64
	}
	ramp := func(n int) []input {
		var out []input
		for i := 1; i <= n; i++ {
			out = append(out, okIn(i, int64(i)))
		}
		return out
	}
	tests := []struct {
		name        string
		thresholds  infrastate.Thresholds
		probes      []input
		wantSamples []sample
		// want is min, avg, max, p95 in microseconds.
		want [4]int64
	}{
		{
			name:        "one_sample",
			thresholds:  hysteresis,
			probes:      []input{okIn(1, 500)},
			wantSamples: []sample{{1, 500}},
			want:        [4]int64{500, 500, 500, 500},
		},
		{
			name:        "min_avg_max_of_unordered_samples",
			thresholds:  hysteresis,
			probes:      []input{okIn(1, 300), okIn(2, 100), okIn(3, 200)},
			wantSamples: []sample{{1, 300}, {2, 100}, {3, 200}},
			want:        [4]int64{100, 200, 300, 300},
		},
		{
			name:        "average_rounds_to_the_nearest_microsecond",
			thresholds:  hysteresis,
			probes:      []input{okIn(1, 1), okIn(2, 2)},
			wantSamples: []sample{{1, 1}, {2, 2}},
			want:        [4]int64{1, 2, 2, 2},
		},
		{
			name:        "failed_probes_are_not_samples",
			thresholds:  hysteresis,
			probes:      []input{okIn(1, 100), failIn(2, 5_000_000), okIn(3, 300)},
			wantSamples: []sample{{1, 100}, {3, 300}},
			want:        [4]int64{100, 200, 300, 300},
		},
		{
			name:       "window_keeps_samples_after_newest_probe_minus_window",
			thresholds: within(10*time.Second, 0),
			probes:     []input{okIn(0, 100), okIn(1, 200), okIn(5, 300), okIn(10, 400)},
			// At 10s the window is (0s, 10s]: the sample at 0s is out, the one at 1s in.
			wantSamples: []sample{{1, 200}, {5, 300}, {10, 400}},
			want:        [4]int64{200, 300, 400, 400},
		},
		{
			name:        "failed_probe_moves_the_window_on",
			thresholds:  within(10*time.Second, 0),
			probes:      []input{okIn(0, 100), okIn(5, 300), failIn(12, 9000)},
			wantSamples: []sample{{5, 300}},
			want:        [4]int64{300, 300, 300, 300},
		},
		{
			name:        "failing_for_longer_than_the_window_empties_it",
			thresholds:  within(10*time.Second, 0),
			probes:      []input{okIn(0, 100), okIn(5, 300), failIn(12, 9000), failIn(15, 9000)},
			wantSamples: nil,
			want:        [4]int64{0, 0, 0, 0},
		},
		{
			name:        "zero_window_means_five_minutes",
			thresholds:  within(0, 0),
			probes:      []input{okIn(0, 100), okIn(1, 200), okIn(300, 300)},
			wantSamples: []sample{{1, 200}, {300, 300}},
			want:        [4]int64{200, 250, 300, 300},
		},
		{
			name:        "cap_keeps_the_newest_samples",
			thresholds:  within(time.Hour, 3),
			probes:      ramp(5),
			wantSamples: []sample{{3, 3}, {4, 4}, {5, 5}},
			want:        [4]int64{3, 4, 5, 5},
		},
		{
			name:        "p95_nearest_rank_of_10_is_the_10th",
			thresholds:  hysteresis,
			probes:      ramp(10),
			wantSamples: []sample{{1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}, {6, 6}, {7, 7}, {8, 8}, {9, 9}, {10, 10}},
			want:        [4]int64{1, 6, 10, 10},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := infrastate.Reducer{Thresholds: tt.thresholds}
			s := infrastate.NewState(subject)
			for _, in := range tt.probes {
				s, _ = r.Reduce(s, envelope(in), in.m)
			}
			var want []infrastate.LatencySample
			for _, w := range tt.wantSamples {
				want = append(want, infrastate.LatencySample{At: infrastate.InstantOf(at(w.sec)), Micros: w.us})
			}
			require.Equal(t, want, s.Latency.Samples)
			got := [4]int64{s.Latency.MinMicros, s.Latency.AvgMicros, s.Latency.MaxMicros, s.Latency.P95Micros}
			require.Equal(t, tt.want, got, "min, avg, max, p95")
		})
	}
}

func TestReducer_Reduce_latency_p95_is_the_nearest_rank(t *testing.T) {
	tests := []struct {
		n    int
		want int64 // the samples are 1..n microseconds, so the rank is the value
	}{
		{n: 1, want: 1},
		{n: 2, want: 2},
		{n: 19, want: 19},
		{n: 20, want: 19},
		{n: 21, want: 20},
		{n: 100, want: 95},
		{n: 101, want: 96},
		{n: 512, want: 487},
	}
	thresholds := infrastate.DefaultThresholds()
	thresholds.LatencyWindow = time.Hour
	for _, tt := range tests {
		r := infrastate.Reducer{Thresholds: thresholds}
		s := infrastate.NewState(subject)
		// Probed in descending latency, so the order of arrival is not the order of the values.
		for i := 1; i <= tt.n; i++ {
			in := okIn(i, int64(tt.n+1-i))
			s, _ = r.Reduce(s, envelope(in), in.m)
		}
		require.Equal(t, tt.n, len(s.Latency.Samples), "samples of 1..%d", tt.n)
		require.Equal(t, tt.want, s.Latency.P95Micros, "p95 of 1..%d", tt.n)
	}
}

func TestReducer_Reduce_latency_keeps_at_most_the_default_cap(t *testing.T) {
	r := infrastate.Reducer{Thresholds: infrastate.Thresholds{DegradedAfter: 1, CriticalAfter: 3, HealthyAfter: 2}}
	s := infrastate.NewState(subject)
	for i := 1; i <= 600; i++ {
		// Ten probes a second: 600 inside five minutes.
		in := probedAt(okIn(0, int64(i)), at(0).Add(time.Duration(i)*100*time.Millisecond))
		s, _ = r.Reduce(s, envelope(in), in.m)
	}
	require.Equal(t, infrastate.DefaultLatencySamples, len(s.Latency.Samples))
	require.Equal(t, int64(600-512+1), s.Latency.MinMicros, "the oldest samples went first")
	require.Equal(t, int64(600), s.Latency.MaxMicros)
}

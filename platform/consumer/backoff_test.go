package consumer_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/platform/consumer"
)

func TestBackoff_waits_grow_by_the_multiplier_up_to_the_max(t *testing.T) {
	b := consumer.Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2}.New()
	var got []time.Duration
	for range 6 {
		got = append(got, b.NextBackOff())
	}
	require.Equal(t, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
		800 * time.Millisecond, time.Second, time.Second}, got)
}

func TestBackoff_jitter_stays_within_its_band(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 1000 {
		d := consumer.Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: 0.5}.New().NextBackOff()
		require.GreaterOrEqual(t, d, 50*time.Millisecond)
		require.LessOrEqual(t, d, 150*time.Millisecond)
		seen[d] = true
	}
	require.Greater(t, len(seen), 100, "the waits are spread, not one value")
}

func TestBackoff_or_fills_only_what_is_missing(t *testing.T) {
	def := consumer.Backoff{Initial: time.Second, Max: time.Minute, Multiplier: 3, Jitter: 0.2}
	require.Equal(t, def, consumer.Backoff{}.Or(def))
	require.Equal(t, consumer.Backoff{Initial: time.Millisecond, Max: time.Minute, Multiplier: 3, Jitter: 0.2},
		consumer.Backoff{Initial: time.Millisecond}.Or(def))
}

func TestBackoff_validate_names_each_problem(t *testing.T) {
	err := consumer.Backoff{Initial: time.Second, Max: time.Millisecond, Multiplier: 0.5, Jitter: 2}.Validate()
	require.ErrorContains(t, err, "initial (1s) ≤ max (1ms)")
	require.ErrorContains(t, err, "multiplier 0.5 is below 1")
	require.ErrorContains(t, err, "jitter 2 is not between 0 and 1")
	require.NoError(t, consumer.DefaultPolicyConfig().Backoff.Validate())
}

package events_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
)

func TestMessages_Validate(t *testing.T) {
	tests := []struct {
		name     string
		m        events.Message
		wantErrs []string
	}{
		{
			name: "healthy_probe_needs_no_error",
			m: events.AdapterHealthReported{
				AdapterID: "kafka/main", Adapter: events.AdapterKafka, Target: "main", Healthy: true, ProbedAt: t0,
			},
		},
		{
			name: "failed_probe_needs_its_error",
			m: events.AdapterHealthReported{
				AdapterID: "kafka/main", Adapter: events.AdapterKafka, Target: "main", Healthy: false, ProbedAt: t0,
			},
			wantErrs: []string{`missing field "error"`},
		},
		{
			name: "probe_of_an_unknown_adapter",
			m: events.AdapterHealthReported{
				AdapterID: "redis/cache", Adapter: "redis", Target: "cache", Healthy: true, ProbedAt: t0,
			},
			wantErrs: []string{`field "adapter" is "redis", want one of ["postgres" "kafka" "consul"]`},
		},
		{
			name:     "breaker_states",
			m:        events.CircuitBreakerStateChanged{AdapterID: "postgres/orders", From: "shut", To: "open", ChangedAt: t0},
			wantErrs: []string{`field "from" is "shut"`},
		},
		{
			name: "breaker_everything_missing",
			m:    events.CircuitBreakerStateChanged{ConsecutiveFailures: -1},
			wantErrs: []string{
				`missing field "adapter_id"`, `field "from" is ""`, `field "to" is ""`,
				`field "consecutive_failures" is -1, must not be negative`, `missing field "changed_at"`,
			},
		},
		{
			name: "pool_without_max",
			m: events.ConnectionPoolStatsReported{
				AdapterID: "postgres/orders", Acquired: 1, Total: 1, Max: 0, ReportedAt: t0,
			},
			wantErrs: []string{`field "max" is 0, must be positive`},
		},
		{
			name: "pool_negative_counts",
			m: events.ConnectionPoolStatsReported{
				AdapterID: "postgres/orders", Acquired: -1, Idle: -2, Total: -3, Max: 10, WaitCount: -4, ReportedAt: t0,
			},
			wantErrs: []string{
				`field "acquired" is -1`, `field "idle" is -2`, `field "total" is -3`, `field "wait_count" is -4`,
			},
		},
		{
			name:     "intent_missing_fields",
			m:        events.FailoverRequired{Intent: events.Intent{Subject: "postgres/orders"}},
			wantErrs: []string{`missing field "intent_id"`, `missing field "reason"`, `missing field "caused_by"`, `missing field "raised_at"`},
		},
		{
			name:     "probe_command",
			m:        events.ProbeTarget{Adapter: "mysql"},
			wantErrs: []string{`field "adapter" is "mysql"`, `missing field "target"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.m.Validate()
			if len(tt.wantErrs) == 0 {
				require.NoError(t, err)
				return
			}
			for _, want := range tt.wantErrs {
				require.ErrorContains(t, err, want)
			}
		})
	}
}

func TestIntentID(t *testing.T) {
	id := events.IntentID("failover_required", "postgres/orders", "event-1")

	require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`), id, "shaped as a UUID")
	require.Equal(t, id, events.IntentID("failover_required", "postgres/orders", "event-1"), "same cause, same id")

	others := map[string]string{
		"other_name":    events.IntentID("circuit_breaker_opened", "postgres/orders", "event-1"),
		"other_subject": events.IntentID("failover_required", "postgres/billing", "event-1"),
		"other_cause":   events.IntentID("failover_required", "postgres/orders", "event-2"),
	}
	for name, other := range others {
		require.NotEqual(t, id, other, name)
	}
}

func TestKind_String(t *testing.T) {
	require.Equal(t, "failover_required/v1", events.FailoverRequired{}.Kind().String())
}

func TestMessage_Key_is_what_the_message_is_about(t *testing.T) {
	tests := []struct {
		name string
		m    events.Message
		want string
	}{
		{name: "health", m: healthReport(), want: "postgres/orders"},
		{name: "breaker", m: events.CircuitBreakerStateChanged{AdapterID: "kafka/main"}, want: "kafka/main"},
		{name: "pool", m: events.ConnectionPoolStatsReported{AdapterID: "postgres/billing"}, want: "postgres/billing"},
		{name: "intent", m: events.RecoveryInitiated{Intent: events.Intent{Subject: "consul/dc1"}}, want: "consul/dc1"},
		{name: "command", m: events.ProbeTarget{Adapter: events.AdapterPostgres, Target: "orders"}, want: "postgres/orders"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.m.Key())
		})
	}
}

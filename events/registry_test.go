package events_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
)

func intent(subject string) events.Intent {
	return events.Intent{
		ID: events.IntentID("test", subject, "cause-1"), Subject: subject, Reason: "seen in a test",
		CausedBy: "cause-1", RaisedAt: t0,
	}
}

// catalogExamples holds one valid message of every kind the catalog must know.
func catalogExamples() []events.Message {
	in := intent("postgres/orders")
	return []events.Message{
		events.InitializationRequested{Intent: in},
		events.InfrastructureHealthReported{SagaID: "s-1", Subject: "postgres/orders", Overall: "degraded", ReportedAt: t0,
			Targets: []events.TargetHealth{{AdapterID: "postgres/orders", Probe: events.ProbeUnknown, State: "healthy"}}},
		events.FailoverFailed{SagaID: "s-2", Subject: "consul/main", FailedStep: "poll_recovery", Reason: "still down",
			Compensated: []string{"release_breaker"}, EscalatedAt: t0},
		events.InitializationReported{SagaID: "s-3", Subject: "infrastructure", Status: "failed", FailedStep: "init_consul",
			Reason: "consul/main: no reply", Initialized: []string{"init_postgres", "init_kafka"}, ReportedAt: t0},
		healthReport(),
		events.CircuitBreakerStateChanged{
			AdapterID: "postgres/orders", From: events.BreakerClosed, To: events.BreakerOpen,
			ConsecutiveFailures: 5, ChangedAt: t0,
		},
		events.AuditCheckpointed{Size: 20, Root: "9f3a", SignedAt: t0, KeyID: "0a1b2c3d4e5f6071", Signature: "c2ln"},
		events.SecurityEventRecorded{Type: events.SecurityRejected, Actor: "alice@ops-1 (omni cmd)", Subject: "postgres/nowhere",
			Reason: `rejected: postgres target "nowhere" is not configured`, Group: "adapter-postgres", Topic: "infra.commands.postgres",
			MessageID: "m-1", At: t0},
		events.TargetOwnershipChanged{AdapterID: "postgres/orders", Owner: "host-b/12/9f0a1c", Previous: "host-a/7/31bb02",
			Token: 4, Reason: events.OwnershipTakenOver, ChangedAt: t0},
		events.ConnectionPoolStatsReported{
			AdapterID: "postgres/orders", Acquired: 10, Idle: 0, Total: 10, Max: 10, WaitCount: 3, ReportedAt: t0,
		},
		events.InfrastructureHealthDegraded{Intent: in},
		events.InfrastructureHealthCritical{Intent: in},
		events.CircuitBreakerOpened{Intent: in},
		events.FailoverRequired{Intent: in},
		events.ConnectionPoolExhausted{Intent: in},
		events.RecoveryInitiated{Intent: in},
		events.ProbeTarget{Adapter: events.AdapterKafka, Target: "main"},
		events.OpenBreaker{Adapter: events.AdapterConsul, Target: "agent", Reason: "failover saga s1"},
		events.CloseBreaker{Adapter: events.AdapterConsul, Target: "agent", Reason: "recovered"},
		events.RecoverTarget{Adapter: events.AdapterPostgres, Target: "orders"},
		events.InitializeTarget{Adapter: events.AdapterKafka, Target: "bus"},
		events.PostgresExecute{On: on("orders"), Statement: events.Statement{SQL: "DELETE FROM t WHERE id = $1", Args: args(`7`)}},
		events.PostgresQuery{On: on("orders"), Statement: events.Statement{SQL: "SELECT $1::text", Args: args(`"x"`)}, MaxRows: 10},
		events.PostgresTransaction{On: on("orders"), Statements: []events.Statement{{SQL: "SELECT 1"}, {SQL: "SELECT $1::int", Args: args(`2`)}}},
		events.KafkaPublish{On: on("bus"), Topic: "t", RecordKey: "k", Headers: map[string]string{"h": "v"}, Payload: "hello"},
		events.KafkaEnsureTopic{On: on("bus"), Topic: "t", Partitions: 3, ReplicationFactor: 1, Configs: map[string]string{"retention.ms": "1000"}},
		events.KafkaDescribeCluster{On: on("bus")},
		events.ConsulKVGet{On: on("agent"), KVKey: "a/b"},
		events.ConsulKVPut{On: on("agent"), KVKey: "a/b", Value: "v"},
		events.ConsulKVDelete{On: on("agent"), KVKey: "a/", Recurse: true},
		events.ConsulKVCompareAndSet{On: on("agent"), KVKey: "a/b", Value: "v2", ModifyIndex: 12},
		events.ConsulRegisterService{On: on("agent"), ServiceID: "web-1", Name: "web", Port: 8080,
			Check: &events.ServiceCheck{Type: events.CheckTTL, TTL: "10s"}},
		events.ConsulDeregisterService{On: on("agent"), ServiceID: "web-1"},
		events.ConsulPassTTL{On: on("agent"), CheckID: "service:web-1"},
		events.ConsulFailTTL{On: on("agent"), CheckID: "service:web-1", Note: "down"},
		events.CommandSucceeded{CommandID: "c1", Command: "postgres_query/v1", AdapterID: "postgres/orders",
			Result: []byte(`{"row_count":1}`), Attempts: 1, DurationMicros: 1200, CompletedAt: t0},
		events.CommandFailed{CommandID: "c1", Command: "postgres_query/v1", AdapterID: "postgres/orders",
			Error: "connection refused", Transient: true, Attempts: 3, FailedAt: t0},
		events.CommandRejected{CommandID: "c1", Command: "postgres_qury/v1", Adapter: events.AdapterPostgres,
			Reason: "unknown message type", RejectedAt: t0},
		events.ConsulKVChanged{AdapterID: "consul/agent", KVKey: "a/b", Value: "v", ModifyIndex: 12, ObservedAt: t0},
		events.ConsulServiceChanged{AdapterID: "consul/agent", Service: "web", ObservedAt: t0,
			Instances: []events.ServiceInstance{{ServiceID: "web-1", Node: "n1", Port: 8080, Status: "passing"}}},
	}
}

func on(target string) events.On { return events.On{Target: target} }

func args(values ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(values))
	for i, v := range values {
		out[i] = json.RawMessage(v)
	}
	return out
}

func TestCatalog_decodes_every_kind_back_into_its_type(t *testing.T) {
	examples := catalogExamples()
	registry := events.Catalog()
	require.Len(t, registry.Kinds(), len(examples), "every registered kind has an example here")

	for _, sent := range examples {
		t.Run(sent.Kind().Name, func(t *testing.T) {
			require.Contains(t, registry.Kinds(), sent.Kind())

			env, got, err := registry.Decode(encode(t, sent))
			require.NoError(t, err)
			require.Equal(t, sent.Kind(), env.Kind)
			require.Equal(t, sent.Key(), env.Key)
			require.IsType(t, sent, got, "decoded into the registered value type")
			require.Equal(t, sent, got)
		})
	}
}

// withPayload returns a well-formed message of kind adapter_health_reported/v2 carrying payload.
func withPayload(t *testing.T, payload string) *message.Message {
	t.Helper()
	msg := encode(t, healthReport())
	msg.Payload = []byte(payload)
	return msg
}

const validHealthPayload = `{"adapter_id":"postgres/orders","adapter":"postgres","target":"orders","healthy":true,` +
	`"latency_us":10,"probed_at":"2026-11-01T12:00:00Z"}`

func TestRegistry_Decode_rejects(t *testing.T) {
	tests := []struct {
		name       string
		msg        func(t *testing.T) *message.Message
		wantReason error
		wantErrs   []string
	}{
		{
			name: "unknown_type",
			msg: func(t *testing.T) *message.Message {
				msg := encode(t, healthReport())
				msg.Metadata.Set(events.MetaType, "adapter_exploded")
				return msg
			},
			wantReason: events.ErrUnknownType,
			wantErrs:   []string{"adapter_exploded/v2", "unknown message type"},
		},
		{
			name: "unknown_schema_version",
			msg: func(t *testing.T) *message.Message {
				msg := encode(t, healthReport())
				msg.Metadata.Set(events.MetaVersion, "7")
				return msg
			},
			wantReason: events.ErrUnknownVersion,
			wantErrs:   []string{"adapter_health_reported/v7", "unknown schema version", "known versions", "[1 2]"},
		},
		{
			name: "not_json",
			msg: func(t *testing.T) *message.Message {
				return withPayload(t, "adapter_id=postgres/orders")
			},
			wantReason: events.ErrInvalidPayload,
			wantErrs:   []string{"invalid payload", "invalid character"},
		},
		{
			name: "wrong_json_type",
			msg: func(t *testing.T) *message.Message {
				return withPayload(t, strings.Replace(validHealthPayload, `"healthy":true`, `"healthy":"yes"`, 1))
			},
			wantReason: events.ErrInvalidPayload,
			wantErrs:   []string{"healthy", "bool"},
		},
		{
			name: "missing_required_field",
			msg: func(t *testing.T) *message.Message {
				return withPayload(t, strings.Replace(validHealthPayload, `"adapter_id":"postgres/orders",`, "", 1))
			},
			wantReason: events.ErrInvalidPayload,
			wantErrs:   []string{`missing field "adapter_id"`},
		},
		{
			name: "every_invalid_field_named",
			msg: func(t *testing.T) *message.Message {
				return withPayload(t, `{"adapter":"mysql","healthy":false,"latency_us":-1}`)
			},
			wantReason: events.ErrInvalidPayload,
			wantErrs: []string{
				`missing field "adapter_id"`, `field "adapter" is "mysql"`, `missing field "target"`,
				`field "latency_us" is -1, must not be negative`, `missing field "probed_at"`, `missing field "error"`,
			},
		},
		{
			name: "unknown_field",
			msg: func(t *testing.T) *message.Message {
				return withPayload(t, strings.Replace(validHealthPayload, `"healthy":true`, `"healthy":true,"region":"eu"`, 1))
			},
			wantReason: events.ErrInvalidPayload,
			wantErrs:   []string{`unknown field "region"`},
		},
		{
			name: "trailing_data",
			msg: func(t *testing.T) *message.Message {
				return withPayload(t, validHealthPayload+validHealthPayload)
			},
			wantReason: events.ErrInvalidPayload,
			wantErrs:   []string{"trailing data"},
		},
		{
			name: "payload_too_large",
			msg: func(t *testing.T) *message.Message {
				padding := strings.Repeat(" ", events.DefaultMaxPayload)
				return withPayload(t, validHealthPayload+padding)
			},
			wantReason: events.ErrPayloadTooLarge,
			wantErrs:   []string{fmt.Sprintf("at most %d", events.DefaultMaxPayload)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := tt.msg(t)

			_, m, err := events.Catalog().Decode(msg)
			require.Nil(t, m)
			require.ErrorIs(t, err, tt.wantReason)
			var decodeErr *events.DecodeError
			require.ErrorAs(t, err, &decodeErr)
			require.Equal(t, msg.UUID, decodeErr.MessageID)
			require.ErrorContains(t, err, msg.UUID, "the error names the message")
			for _, want := range tt.wantErrs {
				require.ErrorContains(t, err, want)
			}
			require.True(t, events.Permanent(err), "a message that cannot be decoded is never retried")
			require.True(t, events.Permanent(fmt.Errorf("could not handle: %w", err)), "still permanent when wrapped")
		})
	}
}

func TestRegistry_Decode_accepts_a_payload_at_the_size_limit(t *testing.T) {
	padding := strings.Repeat(" ", events.DefaultMaxPayload-len(validHealthPayload))
	msg := withPayload(t, validHealthPayload+padding)
	require.Len(t, msg.Payload, events.DefaultMaxPayload)

	_, m, err := events.Catalog().Decode(msg)
	require.NoError(t, err)
	require.Equal(t, "postgres/orders", m.Key())
}

func TestRegistry_Decode_knows_only_its_own_types(t *testing.T) {
	registry := events.NewRegistry(events.ProbeTarget{})
	require.Equal(t, []events.Kind{{Name: "probe_target", Version: 1}}, registry.Kinds())

	_, _, err := registry.Decode(encode(t, healthReport()))
	require.ErrorIs(t, err, events.ErrUnknownType)

	_, m, err := registry.Decode(encode(t, events.ProbeTarget{Adapter: events.AdapterConsul, Target: "dc1"}))
	require.NoError(t, err)
	require.Equal(t, events.ProbeTarget{Adapter: events.AdapterConsul, Target: "dc1"}, m)
}

func TestDecodeError_matches_only_its_reason(t *testing.T) {
	err := error(&events.DecodeError{
		Reason: events.ErrUnknownVersion, Kind: events.Kind{Name: "probe_target", Version: 9}, MessageID: "msg-9",
		Err: errors.New("known versions of \"probe_target\": [1]"),
	})

	require.ErrorIs(t, err, events.ErrUnknownVersion)
	require.NotErrorIs(t, err, events.ErrUnknownType)
	require.NotErrorIs(t, err, events.ErrInvalidPayload)
	require.EqualError(t, err, `message msg-9 (probe_target/v9): unknown schema version: known versions of "probe_target": [1]`)
}

// A version-1 health report, as omnibase-infra wrote it before version 2, decodes into the
// current type; its own rules still apply, and a v2 field in a v1 message is refused.
func TestRegistry_Decode_upcasts_older_versions_to_the_current_type(t *testing.T) {
	v1 := `{"adapter_id":"postgres/orders","adapter":"postgres","target":"orders","healthy":false,` +
		`"error":"connection refused","latency_us":1200,"probed_at":"2026-11-01T12:00:00.123456789Z"}`
	msg := withPayload(t, v1)
	msg.Metadata.Set(events.MetaVersion, "1")
	env, m, err := events.Catalog().Decode(msg)
	require.NoError(t, err)
	require.Equal(t, events.Kind{Name: "adapter_health_reported", Version: 2}, env.Kind)
	require.Equal(t, events.Kind{Name: "adapter_health_reported", Version: 1}, env.UpcastFrom)
	want := healthReport()
	want.Details = nil
	require.Equal(t, want, m)

	for name, payload := range map[string]string{
		"a v2 field in v1": strings.Replace(v1, `"latency_us"`, `"details":{"a":"b"},"latency_us"`, 1),
		"invalid as v1":    strings.Replace(v1, `"adapter":"postgres"`, `"adapter":"redis"`, 1),
	} {
		msg := withPayload(t, payload)
		msg.Metadata.Set(events.MetaVersion, "1")
		_, _, err := events.Catalog().Decode(msg)
		require.ErrorIs(t, err, events.ErrInvalidPayload, name)
		require.ErrorContains(t, err, "adapter_health_reported/v1", name)
	}
	require.NotContains(t, events.Catalog().Kinds(), events.Kind{Name: "adapter_health_reported", Version: 1},
		"an old version is read, never listed as a kind to write")
}

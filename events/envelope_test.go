package events_test

import (
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 123456789, time.UTC)

func healthReport() events.AdapterHealthReported {
	return events.AdapterHealthReported{
		AdapterID: events.AdapterID(events.AdapterPostgres, "orders"), Adapter: events.AdapterPostgres,
		Target: "orders", Healthy: false, Error: "connection refused", LatencyMicros: 1200, ProbedAt: t0,
	}
}

func encode(t *testing.T, m events.Message) *message.Message {
	t.Helper()
	msg, err := events.EncodeWithID("8a1f0e42-0000-4000-8000-000000000001", m, events.NewOrigin(), t0)
	require.NoError(t, err)
	return msg
}

func TestEnvelope_round_trip_keeps_payload_and_every_envelope_field(t *testing.T) {
	origin := events.Origin{CorrelationID: "corr-1", CausationID: "cause-1"}
	occurredAt := time.Date(2026, 11, 1, 13, 0, 0, 987654321, time.FixedZone("CET", 3600))
	sent := healthReport()

	msg, err := events.EncodeWithID("msg-1", sent, origin, occurredAt)
	require.NoError(t, err)
	env, got, err := events.Catalog().Decode(msg)
	require.NoError(t, err)

	require.Equal(t, sent, got, "payload")
	require.Equal(t, "msg-1", env.ID)
	require.Equal(t, events.Kind{Name: "adapter_health_reported", Version: 2}, env.Kind)
	require.Zero(t, env.UpcastFrom, "written in the current version")
	require.Equal(t, "corr-1", env.CorrelationID)
	require.Equal(t, "cause-1", env.CausationID)
	require.True(t, occurredAt.Equal(env.OccurredAt), "occurred at %s, decoded %s", occurredAt, env.OccurredAt)
	require.Equal(t, "postgres/orders", env.Key)
}

func TestEnvelope_root_message_has_no_causation_and_a_new_id(t *testing.T) {
	first, err := events.Encode(healthReport(), events.NewOrigin(), t0)
	require.NoError(t, err)
	second, err := events.Encode(healthReport(), events.NewOrigin(), t0)
	require.NoError(t, err)

	env, err := events.ReadEnvelope(first)
	require.NoError(t, err)
	require.Empty(t, env.CausationID)
	require.NotEmpty(t, env.CorrelationID)
	require.NotEqual(t, first.UUID, second.UUID)
	require.Equal(t, "postgres/orders", first.Metadata.Get(events.MetaKey), "key travels in the metadata")
}

func TestEnvelope_caused_message_keeps_correlation_and_names_its_cause(t *testing.T) {
	cause, err := events.ReadEnvelope(encode(t, healthReport()))
	require.NoError(t, err)

	effect, err := events.Encode(events.ProbeTarget{Adapter: events.AdapterPostgres, Target: "orders"}, cause.Caused(), t0)
	require.NoError(t, err)
	env, err := events.ReadEnvelope(effect)
	require.NoError(t, err)

	require.Equal(t, cause.CorrelationID, env.CorrelationID)
	require.Equal(t, cause.ID, env.CausationID)
}

func TestEncode_refuses(t *testing.T) {
	invalid := healthReport()
	invalid.AdapterID = ""
	tests := []struct {
		name    string
		m       events.Message
		origin  events.Origin
		wantErr string
	}{
		{name: "invalid_payload", m: invalid, origin: events.NewOrigin(), wantErr: `missing field "adapter_id"`},
		{name: "missing_correlation_id", m: healthReport(), origin: events.Origin{}, wantErr: "missing correlation id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := events.Encode(tt.m, tt.origin, t0)
			require.ErrorContains(t, err, tt.wantErr)
			require.ErrorContains(t, err, "adapter_health_reported/v2", "the error names the kind")
			require.Nil(t, msg)
		})
	}
}

func TestReadEnvelope_names_every_bad_field(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(msg *message.Message)
		wantErrs []string
	}{
		{
			name:     "missing_type",
			mutate:   func(msg *message.Message) { delete(msg.Metadata, events.MetaType) },
			wantErrs: []string{`missing metadata "type"`},
		},
		{
			name:     "missing_schema_version",
			mutate:   func(msg *message.Message) { delete(msg.Metadata, events.MetaVersion) },
			wantErrs: []string{`missing metadata "schema_version"`},
		},
		{
			name:     "schema_version_not_a_number",
			mutate:   func(msg *message.Message) { msg.Metadata.Set(events.MetaVersion, "one") },
			wantErrs: []string{`metadata "schema_version" is "one", want a positive integer`},
		},
		{
			name:     "schema_version_zero",
			mutate:   func(msg *message.Message) { msg.Metadata.Set(events.MetaVersion, "0") },
			wantErrs: []string{`metadata "schema_version" is "0", want a positive integer`},
		},
		{
			name:     "missing_correlation_id",
			mutate:   func(msg *message.Message) { delete(msg.Metadata, events.MetaCorrelationID) },
			wantErrs: []string{`missing metadata "correlation_id"`},
		},
		{
			name:     "missing_occurred_at",
			mutate:   func(msg *message.Message) { delete(msg.Metadata, events.MetaOccurredAt) },
			wantErrs: []string{`missing metadata "occurred_at"`},
		},
		{
			name:     "occurred_at_not_rfc3339",
			mutate:   func(msg *message.Message) { msg.Metadata.Set(events.MetaOccurredAt, "yesterday") },
			wantErrs: []string{`metadata "occurred_at" is "yesterday", want RFC 3339`},
		},
		{
			name:     "missing_message_id",
			mutate:   func(msg *message.Message) { msg.UUID = "" },
			wantErrs: []string{"missing message id"},
		},
		{
			name: "everything_missing",
			mutate: func(msg *message.Message) {
				msg.UUID = ""
				msg.Metadata = message.Metadata{}
			},
			wantErrs: []string{
				"missing message id", `missing metadata "type"`, `missing metadata "schema_version"`,
				`missing metadata "correlation_id"`, `missing metadata "occurred_at"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := encode(t, healthReport())
			tt.mutate(msg)

			_, err := events.ReadEnvelope(msg)
			require.ErrorIs(t, err, events.ErrBadEnvelope)
			for _, want := range tt.wantErrs {
				require.ErrorContains(t, err, want)
			}
			require.True(t, events.Permanent(err))

			_, m, err := events.Catalog().Decode(msg)
			require.ErrorIs(t, err, events.ErrBadEnvelope, "Decode reads the envelope first")
			require.Nil(t, m)
		})
	}
}

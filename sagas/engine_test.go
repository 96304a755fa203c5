package sagas_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/sagas"
)

// lookupDB knows no saga command: it records the command ids the engine looks up, and fails the
// test when the engine opens a transaction (nothing these tests hand it should get that far).
type lookupDB struct {
	t       *testing.T
	lookups []string
}

func (d *lookupDB) Begin(context.Context) (pgx.Tx, error) {
	d.t.Error("the engine opened a transaction")
	return nil, errors.New("no transactions in this test")
}

func (d *lookupDB) QueryRow(_ context.Context, _ string, args ...any) pgx.Row {
	d.lookups = append(d.lookups, args[0].(string))
	return noRow{}
}

type noRow struct{}

func (noRow) Scan(...any) error { return pgx.ErrNoRows }

// noTargets is a projection that knows no targets.
type noTargets struct{}

func (noTargets) ReadTargets(context.Context, pgtx.Querier, func(string, string, events.Status, events.BreakerState)) error {
	return nil
}

func newEngine(t *testing.T, db sagas.DB) *sagas.Engine {
	contract, err := sagas.DefaultContract()
	require.NoError(t, err)
	e, err := sagas.New(sagas.Config{DB: db, Registry: events.Catalog(), Targets: noTargets{}, Contract: contract},
		slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return e
}

func encoded(t *testing.T, m events.Message) *message.Message {
	msg, err := events.Encode(m, events.NewOrigin(), t0)
	require.NoError(t, err)
	return msg
}

func TestEngine_HandleEvent_routes_by_the_decoded_type(t *testing.T) {
	succeeded := events.CommandSucceeded{CommandID: "cmd-ok", Command: "probe_target/v1", AdapterID: "consul/main",
		Result: json.RawMessage(`{"healthy":true,"error":""}`), Attempts: 1, CompletedAt: t0}
	failed := events.CommandFailed{CommandID: "cmd-failed", Command: "recover_target/v1", AdapterID: "consul/main",
		Error: "connection refused", Attempts: 1, FailedAt: t0}
	rejected := events.CommandRejected{CommandID: "cmd-rejected", Adapter: "consul", Reason: "unknown target", RejectedAt: t0}
	report := events.AdapterHealthReported{AdapterID: "consul/main", Adapter: "consul", Target: "main", Healthy: true,
		LatencyMicros: 10, ProbedAt: t0}
	unknown := encoded(t, report)
	unknown.Metadata.Set(events.MetaType, "adapter_exploded")
	// A message whose metadata names an outcome but whose payload is not one.
	invalid := encoded(t, failed)
	invalid.Payload = []byte(`{"command_id": "cmd-invalid"}`)

	tests := []struct {
		name        string
		msg         *message.Message
		wantLookups []string
		wantErr     error
	}{
		{name: "command_succeeded_is_a_reply", msg: encoded(t, succeeded), wantLookups: []string{"cmd-ok"}},
		{name: "command_failed_is_a_reply", msg: encoded(t, failed), wantLookups: []string{"cmd-failed"}},
		{name: "command_rejected_is_a_reply", msg: encoded(t, rejected), wantLookups: []string{"cmd-rejected"}},
		{name: "other_events_are_passed_over", msg: encoded(t, report)},
		{name: "an_unknown_type_is_refused", msg: unknown, wantErr: events.ErrUnknownType},
		{name: "an_invalid_payload_is_refused", msg: invalid, wantErr: events.ErrInvalidPayload},
		{name: "a_message_without_envelope_is_refused", msg: message.NewMessage(watermill.NewUUID(), []byte(`{}`)),
			wantErr: events.ErrBadEnvelope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := &lookupDB{t: t}
			err := newEngine(t, db).HandleEvent(tt.msg)
			require.Equal(t, tt.wantLookups, db.lookups, "the commands looked up")
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			var decodeErr *events.DecodeError
			require.ErrorAs(t, err, &decodeErr, "poisoned by the consumer's policy")
			require.ErrorIs(t, err, tt.wantErr)
			require.True(t, events.Permanent(err))
		})
	}
}

func TestEngine_HandleIntent_refuses_a_message_that_is_not_an_intent(t *testing.T) {
	db := &lookupDB{t: t}
	err := newEngine(t, db).HandleIntent(encoded(t, events.CommandRejected{CommandID: "cmd-1", Adapter: "consul",
		Reason: "unknown target", RejectedAt: t0}))
	var decodeErr *events.DecodeError
	require.ErrorAs(t, err, &decodeErr)
	require.ErrorIs(t, err, events.ErrUnknownType)
	require.Contains(t, err.Error(), "events.CommandRejected is not an intent")
	require.Empty(t, db.lookups)
}

func TestNew_names_every_missing_required_field(t *testing.T) {
	_, err := sagas.New(sagas.Config{}, slog.New(slog.DiscardHandler))
	require.Error(t, err)
	for _, want := range []string{"invalid config", "missing DB", "missing Registry", "missing Targets", "contract has no routes"} {
		require.Contains(t, err.Error(), want)
	}
}

package integration_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// Every message published through the outbox is appended to the event log in the same
// transaction, and the log refuses to be rewritten.
func TestEventLog_keeps_what_committed_and_nothing_else_append_only(t *testing.T) {
	_, db := newControlDB(t)
	ctx := context.Background()
	first, second, third := probeEvent(t, "postgres/a", 1), probeEvent(t, "postgres/b", 2), probeEvent(t, "postgres/a", 3)
	require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		return outbox.Publish(ctx, tx, "infra.events", first, second)
	}))
	errBoom := errors.New("handler failed after writing")
	require.ErrorIs(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		if err := outbox.Publish(ctx, tx, "infra.events", third); err != nil {
			return err
		}
		return errBoom
	}), errBoom)

	logged, err := outbox.ReadLog(ctx, db, "infra.events", 0, 100)
	require.NoError(t, err)
	require.Len(t, logged, 2, "the rolled-back message is not in the log")
	for i, want := range []string{first.UUID, second.UUID} {
		got := logged[i].Message
		require.Equal(t, want, got.UUID)
		env, m, err := events.Catalog().Decode(got)
		require.NoError(t, err, "a logged message decodes as it was published")
		require.Equal(t, want, env.ID)
		require.IsType(t, events.AdapterHealthReported{}, m)
	}
	require.Less(t, logged[0].Seq, logged[1].Seq)
	after, err := outbox.ReadLog(ctx, db, "infra.events", logged[0].Seq, 100)
	require.NoError(t, err)
	require.Len(t, after, 1)

	_, err = db.Exec(ctx, `UPDATE event_log SET key = 'x'`)
	require.ErrorContains(t, err, "event_log is append-only: UPDATE refused")
	_, err = db.Exec(ctx, `DELETE FROM event_log`)
	require.ErrorContains(t, err, "event_log is append-only: DELETE refused")
	_, err = db.Exec(ctx, `TRUNCATE event_log`)
	require.ErrorContains(t, err, "event_log is append-only: TRUNCATE refused")

	// retention is the one way out
	n, err := outbox.TrimEventLog(ctx, db, time.Now().Add(-time.Hour), audit.RecordTrim("retention test"))
	require.NoError(t, err)
	require.Zero(t, n, "nothing is older than an hour")
	n, err = outbox.TrimEventLog(ctx, db, time.Now().Add(time.Minute), audit.RecordTrim("retention test"))
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		return outbox.Publish(ctx, tx, "infra.events", probeEvent(t, "postgres/a", 4))
	}))
	_, err = db.Exec(ctx, `DELETE FROM event_log`)
	require.ErrorContains(t, err, "append-only", "trimming did not leave the door open")
}

// With a retention, the relay role trims the log; without one, nothing leaves it.
func TestEventLog_relay_role_keeps_only_the_configured_retention(t *testing.T) {
	kafka := newKafka(t)
	keptURL, kept := newControlDB(t)
	trimmedURL, trimmed := newControlDB(t)
	ctx := context.Background()
	for _, db := range []*pgxpool.Pool{kept, trimmed} {
		require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error {
			return outbox.Publish(ctx, tx, "infra.events", probeEvent(t, "postgres/a", 1))
		}))
	}
	relayOnly := func(url string) app.Config {
		cfg := appConfig(url, kafka.Brokers())
		cfg.Roles = []app.Role{app.RoleRelay}
		return cfg
	}
	cfg := relayOnly(trimmedURL)
	cfg.Retention.EventLog = time.Millisecond
	startApp(t, cfg)
	startApp(t, relayOnly(keptURL))

	count := func(db *pgxpool.Pool) (n int) {
		require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM event_log`).Scan(&n))
		return n
	}
	eventually(t, 10*time.Second, "the event log trimmed", func() (bool, string, error) {
		n := count(trimmed)
		return n == 0, fmt.Sprintf("%d events", n), nil
	})
	require.Equal(t, 1, count(kept), "no retention: kept forever")
	var trims int
	require.NoError(t, trimmed.QueryRow(ctx, `SELECT count(*) FROM audit_entries WHERE action = $1 AND actor LIKE 'omni run (%'`,
		audit.ActionEventLogTrimmed).Scan(&trims))
	require.Positive(t, trims, "the relay's trim is in the audit log, by the process")
}

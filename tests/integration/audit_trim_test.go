package integration_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// Trimming the event log is an audited operation: the old omni.event_log_trim setting no longer
// opens the table, nor does an audit entry of another kind; the retention's trim deletes, leaves
// an event_log.trimmed entry saying what it removed, and the log still verifies.
func TestAudit_trimming_the_event_log_is_an_audited_operation(t *testing.T) {
	url, db := newControlDB(t)
	ctx := context.Background()
	for i := range 3 {
		require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error {
			return outbox.Publish(ctx, tx, "infra.events", probeEvent(t, "postgres/a", i))
		}))
	}
	countEvents := func() (n int) {
		require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM event_log`).Scan(&n))
		return n
	}

	err := pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL omni.event_log_trim = 'on'`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM event_log`)
		return err
	})
	require.ErrorContains(t, err, "event_log is append-only: DELETE refused (omni.event_log_trim no longer allows it")
	_, err = db.Exec(ctx, `DELETE FROM event_log WHERE seq = 1`)
	require.ErrorContains(t, err, "event_log is append-only: DELETE refused (only a trim that appends an event_log.trimmed audit entry")
	err = pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		if _, err := audit.Append(ctx, tx, audit.Entry{Actor: "mallory", Action: "command.sent", Subject: "event_log", Outcome: "sent"}); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM event_log`)
		return err
	})
	require.ErrorContains(t, err, "DELETE refused", "an entry of another action does not open the table")
	require.Equal(t, 3, countEvents())

	// Rewriting a row is refused the same way: only a rewrap that appends its entry may change a
	// row, and then only its payload and metadata.
	err = pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL omni.event_log_rewrap = 'on'`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE event_log SET payload = '{}' WHERE seq = 1`)
		return err
	})
	require.ErrorContains(t, err, "event_log is append-only: UPDATE refused")
	err = pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		if err := audit.RecordRewrap("omni keys (test)")(ctx, tx, 0, 500); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE event_log SET topic = 'elsewhere' WHERE seq = 1`)
		return err
	})
	require.ErrorContains(t, err, "UPDATE refused", "a rewrap changes payload and metadata only")

	_, err = outbox.NewRetention(outbox.RetentionConfig{DB: db, EventLog: time.Hour}, testLogger(t))
	require.ErrorContains(t, err, "RecordTrim is missing")
	r, err := outbox.NewRetention(outbox.RetentionConfig{DB: db, EventLog: time.Hour, RecordTrim: audit.RecordTrim("omni run (test)")}, testLogger(t))
	require.NoError(t, err)
	var firstSeq, lastSeq int64
	require.NoError(t, db.QueryRow(ctx, `SELECT min(seq), max(seq) FROM event_log`).Scan(&firstSeq, &lastSeq))
	now := time.Now().Add(2 * time.Hour)
	r.Trim(ctx, now)
	require.Zero(t, countEvents(), "the retention trimmed every event older than its cutoff")
	r.Trim(ctx, now) // nothing left: no second entry

	var trims []audit.Entry
	rows, err := db.Query(ctx, `SELECT seq, actor, subject, outcome, detail FROM audit_entries WHERE action = $1 ORDER BY seq`, audit.ActionEventLogTrimmed)
	require.NoError(t, err)
	for rows.Next() {
		var e audit.Entry
		require.NoError(t, rows.Scan(&e.Seq, &e.Actor, &e.Subject, &e.Outcome, &e.Detail))
		trims = append(trims, e)
	}
	require.NoError(t, rows.Err())
	require.Len(t, trims, 1, "one trim, one entry")
	require.Equal(t, "omni run (test)", trims[0].Actor)
	require.Equal(t, "event_log", trims[0].Subject)
	require.Equal(t, "trimmed", trims[0].Outcome)
	require.Equal(t, map[string]string{"cutoff": now.Add(-time.Hour).UTC().Format(time.RFC3339Nano), "rows": "3",
		"first_seq": itoa(firstSeq), "last_seq": itoa(lastSeq)}, trims[0].Detail)

	require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		return outbox.Publish(ctx, tx, "infra.events", probeEvent(t, "postgres/a", 4))
	}))
	_, err = db.Exec(ctx, `DELETE FROM event_log`)
	require.ErrorContains(t, err, "DELETE refused", "the trim's transaction did not leave the door open")

	keyFile := filepath.Join(t.TempDir(), "audit.key")
	env := []string{"DATABASE_URL=" + url}
	out, stderr, code := omni(t, env, "audit", "keygen", keyFile)
	require.Equal(t, 0, code, stderr+out)
	out, stderr, code = omni(t, env, "audit", "checkpoint", "--key-file", keyFile)
	require.Equal(t, 0, code, stderr+out)
	out, stderr, code = omni(t, env, "audit", "verify", "--key-file", keyFile)
	require.Equal(t, 0, code, stderr+out)
	require.Contains(t, out, "1 entries", "the refused attempts left nothing; the trim one entry")
	require.Contains(t, out, "verified: entries 1 to 1 match the checkpoint")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

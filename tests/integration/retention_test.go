package integration_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// What the loop keeps only for a while leaves after its retention, and only that: the inbox, the
// command records and the poison records older than theirs are trimmed, newer ones kept.
func TestRetention_trims_the_inbox_the_command_and_the_poison_records_to_their_retention(t *testing.T) {
	_, db := newControlDB(t)
	ctx := context.Background()
	now := time.Now()
	for _, q := range []string{
		`INSERT INTO processed_messages (consumer, message_id, processed_at) VALUES ('c', 'old', now() - interval '3 days'), ('c', 'new', now())`,
		`INSERT INTO processed_commands (command_id, adapter, kind, processed_at) VALUES ('old', 'postgres', 'probe_target/v1', now() - interval '8 days'), ('new', 'postgres', 'probe_target/v1', now())`,
		`INSERT INTO poison_messages (consumer_group, message_id, topic, reason, metadata, payload, payload_bytes, payload_sha256, truncated, poisoned_at)
		 VALUES ('g', 'old', 't', 'r', '{}', '', 0, '', false, now() - interval '31 days'), ('g', 'new', 't', 'r', '{}', '', 0, '', false, now())`,
	} {
		_, err := db.Exec(ctx, q)
		require.NoError(t, err)
	}
	r, err := outbox.NewRetention(outbox.RetentionConfig{DB: db, Inbox: 48 * time.Hour}, testLogger(t))
	require.NoError(t, err)
	r.Trim(ctx, now)
	for _, table := range []string{"processed_messages", "processed_commands", "poison_messages"} {
		var ids []string
		col := map[string]string{"processed_messages": "message_id", "processed_commands": "command_id", "poison_messages": "message_id"}[table]
		rows, err := db.Query(ctx, `SELECT `+col+` FROM `+table+` ORDER BY 1`)
		require.NoError(t, err)
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		require.Equal(t, []string{"new"}, ids, "%s: the old row trimmed, the new one kept", table)
	}

	_, err = outbox.NewRetention(outbox.RetentionConfig{DB: db, EventLog: 48 * time.Hour, Inbox: time.Hour}, testLogger(t))
	require.ErrorContains(t, err, "--inbox-retention (1h0m0s) must be at least --event-log-retention (48h0m0s)")
}

// Delivered rows leave the outbox after the relay's retention; rows not yet delivered stay,
// whatever their age.
func TestRetention_the_relay_trims_delivered_rows_only(t *testing.T) {
	kafka := started(t, containers.StartDurableKafka)
	_, db := newControlDB(t)
	ctx := context.Background()
	topic := "retention." + watermill.NewShortUUID()
	write := func(n int) {
		for i := range n {
			m := probeEvent(t, "postgres/a", i)
			require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error { return outbox.Publish(ctx, tx, topic, m) }))
		}
		// Aged as if they had been written long ago.
		_, err := db.Exec(ctx, `UPDATE watermill_outbox SET created_at = localtimestamp - interval '2 hours'`)
		require.NoError(t, err)
	}
	rows := func() (n int) {
		require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM watermill_outbox`).Scan(&n))
		return n
	}
	write(3)
	relay := startRelayWith(t, db, kafka.Brokers(), func(c *outbox.RelayConfig) { c.Retention = 2 * time.Second })
	require.Len(t, consumeAll(t, kafka.Brokers(), topic, 2*time.Second, 10), 3)
	eventually(t, 30*time.Second, "the delivered rows trimmed", func() (bool, string, error) {
		return rows() == 0, strconv.Itoa(rows()), nil
	})

	// Rows the relay cannot deliver (the broker is away) stay, however old, until delivered.
	require.NoError(t, kafka.Stop(ctx))
	write(2)
	time.Sleep(5 * time.Second) // several of the relay's trims
	require.Equal(t, 2, rows(), "undelivered rows are never trimmed")
	require.NoError(t, kafka.Start(ctx))
	eventually(t, 60*time.Second, "delivered, then trimmed", func() (bool, string, error) {
		return rows() == 0, strconv.Itoa(rows()), nil
	})
	require.Len(t, consumeAll(t, kafka.Brokers(), topic, 2*time.Second, 10), 5)
	require.NoError(t, relay.Ready())
	var logged int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM event_log WHERE topic = $1`, topic).Scan(&logged))
	require.Equal(t, 5, logged, "the event log keeps them: it has no retention here")
}

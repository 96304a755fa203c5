package integration_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

func probeEvent(t *testing.T, adapterID string, seq int) *message.Message {
	t.Helper()
	msg, err := events.Encode(events.AdapterHealthReported{
		AdapterID: adapterID, Adapter: events.AdapterPostgres, Target: "x", Healthy: true,
		LatencyMicros: int64(seq), ProbedAt: time.Unix(1_700_000_000+int64(seq), 0).UTC(),
	}, events.NewOrigin(), time.Now())
	require.NoError(t, err)
	return msg
}

func TestOutbox_rolled_back_transaction_publishes_nothing_committed_one_exactly_its_events_in_order_per_key(t *testing.T) {
	kafka := newKafka(t)
	_, db := newControlDB(t)
	topic := "outbox-test." + watermill.NewShortUUID()
	ctx := context.Background()

	// A transaction that rolls back: its rows must never reach Kafka.
	errBoom := errors.New("handler failed after writing")
	var rolledBack []string
	err := pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		for i := range 3 {
			m := probeEvent(t, "postgres/rolled-back", i)
			rolledBack = append(rolledBack, m.UUID)
			require.NoError(t, outbox.Publish(ctx, tx, topic, m))
		}
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)

	// Committed transactions interleaving two keys.
	want := map[string][]string{}
	for batch := range 4 {
		require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error {
			var msgs []*message.Message
			for i := range 5 {
				key := fmt.Sprintf("postgres/key-%d", i%2)
				m := probeEvent(t, key, batch*10+i)
				want[key] = append(want[key], m.UUID)
				msgs = append(msgs, m)
			}
			return outbox.Publish(ctx, tx, topic, msgs...)
		}))
	}

	startRelay(t, db, kafka.Brokers())

	records := consumeAll(t, kafka.Brokers(), topic, 3*time.Second, 100)
	got := map[string][]string{}
	for _, r := range records {
		got[string(r.Key)] = append(got[string(r.Key)], header(r, "_watermill_message_uuid"))
	}
	require.Len(t, records, 20, "exactly the committed events, each once")
	require.Equal(t, want, got, "every committed event, in commit order per key")
	for _, id := range rolledBack {
		for _, ids := range got {
			require.NotContains(t, ids, id, "an event of the rolled-back transaction reached Kafka")
		}
	}
}

func TestOutbox_relay_sends_undeliverable_rows_to_the_poison_topic_and_delivers_the_rest(t *testing.T) {
	kafka := newKafka(t)
	_, db := newControlDB(t)
	topic := "outbox-test." + watermill.NewShortUUID()
	ctx := context.Background()

	before := probeEvent(t, "postgres/a", 1)
	require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error { return outbox.Publish(ctx, tx, topic, before) }))
	// A row no relay can ever deliver: its envelope names no destination topic (as a row written by
	// hand or by a broken writer would).
	malformed := watermill.NewUUID()
	_, err := db.Exec(ctx, `INSERT INTO watermill_outbox (uuid, payload, metadata, transaction_id)
		VALUES ($1, '{"uuid": "x", "payload": "e30=", "metadata": {}}', '{}', pg_current_xact_id())`, malformed)
	require.NoError(t, err)
	after := probeEvent(t, "postgres/a", 2)
	require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error { return outbox.Publish(ctx, tx, topic, after) }))

	startRelay(t, db, kafka.Brokers())

	var got []string
	for _, r := range consumeAll(t, kafka.Brokers(), topic, 3*time.Second, 10) {
		got = append(got, header(r, "_watermill_message_uuid"))
	}
	require.Equal(t, []string{before.UUID, after.UUID}, got, "the good rows, in order, past the bad one")

	poisoned := poisonedBy(t, db, kafka.Brokers(), "outbox-relay", outbox.ForwarderTopic, 1)
	require.Len(t, poisoned, 1)
	require.Contains(t, poisoned[malformed], "envelope is invalid")
}

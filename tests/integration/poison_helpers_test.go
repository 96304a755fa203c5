package integration_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/consumer"
)

// poisonedBy returns, for each message group gave up on, why: as poison_messages keeps it, checked
// against the copies on the group's poison topic (each once, naming where the message came from).
// It waits for the copies: they travel through the outbox and the relay.
func poisonedBy(t *testing.T, db *pgxpool.Pool, brokers []string, group, topic string, want int) map[string]string {
	t.Helper()
	stored := map[string]string{}
	eventually(t, 30*time.Second, "the poisoned messages of "+group+" stored", func() (bool, string, error) {
		rows, err := db.Query(context.Background(), `SELECT message_id, reason, topic FROM poison_messages
			WHERE consumer_group = $1`, group)
		if err != nil {
			return false, "", err
		}
		stored = map[string]string{}
		var id, reason, from string
		_, err = pgx.ForEachRow(rows, []any{&id, &reason, &from}, func() error {
			stored[id] = reason
			require.Equal(t, topic, from, "poisoned message %s names the topic it came from", id)
			return nil
		})
		return len(stored) >= want, "", err
	})
	copies := map[string]string{}
	eventually(t, 30*time.Second, "the copies on "+group+"'s poison topic", func() (bool, string, error) {
		copies = map[string]string{}
		for _, r := range consumeAll(t, brokers, events.DefaultTopics().Poison(group), 2*time.Second, 100) {
			id := header(r, consumer.MetaMessageID)
			require.NotContains(t, copies, id, "message %s poisoned once", id)
			copies[id] = header(r, consumer.MetaReason)
			require.Equal(t, topic, header(r, consumer.MetaTopic), "the copy of %s names its topic", id)
			require.Equal(t, group, header(r, consumer.MetaGroup), "the copy of %s names its group", id)
		}
		return len(copies) >= len(stored), "", nil
	})
	require.Equal(t, stored, copies, "what poison_messages keeps is what the poison topic says")
	return stored
}

// startRelay runs a relay from the test's control database to its broker until the test ends.
func startRelay(t *testing.T, db *pgxpool.Pool, brokers []string) *outbox.Relay {
	t.Helper()
	return startRelayWith(t, db, brokers, func(*outbox.RelayConfig) {})
}

// startRelayWith is startRelay with a config that change adjusts.
func startRelayWith(t *testing.T, db *pgxpool.Pool, brokers []string, change func(*outbox.RelayConfig)) *outbox.Relay {
	t.Helper()
	logger := testLogger(t)
	poison, err := outbox.NewPoisonStore(outbox.PoisonStoreConfig{DB: db})
	require.NoError(t, err)
	policy, err := consumer.NewPolicy(consumer.PolicyConfig{Store: poison}, logger)
	require.NoError(t, err)
	cfg := outbox.RelayConfig{DB: db, Brokers: brokers, Poison: poison, Policy: policy, PollInterval: 200 * time.Millisecond}
	change(&cfg)
	relay, err := outbox.NewRelay(cfg, logger)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	<-relay.Running()
	return relay
}

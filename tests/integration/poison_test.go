package integration_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/projections/infrastate"
	"github.com/omninode/omnibase-infra/sagas"
)

// A 5 MB record compressed with snappy is taken by the broker (its limit is the compressed
// batch's) and can never be handled, nor published again whole. Every consumer that reads it keeps
// it as poison — whole, with its size and hash, and a copy on its poison topic that goes without
// the payload — and moves on to the next message: the partition does not wedge.
func TestPoison_a_record_too_large_to_publish_again_is_kept_and_every_consumer_moves_on(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	startApp(t, appConfig(url, kafka.Brokers()))
	waitHealthy(t, db, "postgres/control")
	topics := events.DefaultTopics()

	foreign, err := kgo.NewClient(kgo.SeedBrokers(kafka.Brokers()...), kgo.ProducerBatchCompression(kgo.SnappyCompression()),
		kgo.ProducerBatchMaxBytes(16<<20))
	require.NoError(t, err)
	defer foreign.Close()
	huge := []byte(`{"adapter_id":"postgres/control","blob":"` + strings.Repeat("x", 5<<20) + `"}`)
	sum := sha256.Sum256(huge)
	hugeRecord := func(topic, kind, key string) (*kgo.Record, string) {
		id := watermill.NewUUID()
		return &kgo.Record{Topic: topic, Key: []byte(key), Value: huge, Headers: kgoHeaders(map[string]string{
			"_watermill_message_uuid": id, events.MetaType: kind, events.MetaVersion: "1",
			events.MetaCorrelationID: watermill.NewUUID(), events.MetaOccurredAt: time.Now().UTC().Format(time.RFC3339Nano),
			events.MetaKey: key,
		})}, id
	}
	ctx := context.Background()
	event, eventID := hugeRecord(topics.Events, "adapter_health_reported", "postgres/control")
	intent, intentID := hugeRecord(topics.Intents, "infrastructure_health_degraded", "postgres/control")
	command, commandID := hugeRecord(topics.Commands(events.AdapterPostgres), "probe_target", "postgres/control")
	require.NoError(t, foreign.ProduceSync(ctx, event, intent, command).FirstErr(), "the broker takes the compressed record")

	// The next message of each topic is handled: a command, and an intent whose saga completes.
	c := newCommander(t, db, kafka.Brokers())
	caused := c.run(events.ProbeTarget{Adapter: events.AdapterPostgres, Target: "control"})
	succeeded(t, caused, nil)
	saga := sagaTriggeredBy(t, db, publishIntent(t, db, kafka.Brokers(), "infrastructure_health_degraded", "postgres/control"))
	waitSaga(t, db, saga, 60*time.Second, "the next intent's saga completing", ended)

	for group, want := range map[string]struct{ id, topic string }{
		infrastate.ConsumerName:   {eventID, topics.Events},
		sagas.RepliesConsumerName: {eventID, topics.Events},
		sagas.IntakeConsumerName:  {intentID, topics.Intents},
		"adapter-postgres":        {commandID, topics.Commands(events.AdapterPostgres)},
	} {
		poisoned := poisonedBy(t, db, kafka.Brokers(), group, want.topic, 1)
		require.Contains(t, poisoned[want.id], "payload too large", group)
		var bytes, stored int64
		var hash string
		var truncated bool
		require.NoError(t, db.QueryRow(ctx, `SELECT payload_bytes, length(payload), payload_sha256, truncated
			FROM poison_messages WHERE consumer_group = $1 AND message_id = $2`, group, want.id).Scan(&bytes, &stored, &hash, &truncated))
		require.Equal(t, int64(len(huge)), bytes, group)
		require.Equal(t, bytes, stored, "%s keeps all 5 MB", group)
		require.False(t, truncated)
		require.Equal(t, hex.EncodeToString(sum[:]), hash, group)
	}
	s := currentState(t, db, "postgres/control")
	require.Greater(t, s.Probes, int64(0), "the projection went on folding probes")
}

// kgoHeaders turns a map into record headers.
func kgoHeaders(m map[string]string) []kgo.RecordHeader {
	var out []kgo.RecordHeader
	for k, v := range m {
		out = append(out, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	return out
}

package kafka_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/kafka"
	"github.com/omninode/omnibase-infra/internal/devkafka"
)

// A publish with a key lands on the partition franz-go's default partitioner (the Java client's
// murmur2) picks for that key, not on Sarama's FNV-1a choice: the adapter's records keep their
// order per key with any other producer of the topic.
func TestDriver_publish_puts_a_key_where_the_java_client_does(t *testing.T) {
	broker, err := devkafka.Start(devkafka.Config{}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(broker.Close)
	d, err := kafka.New(kafka.Config{Targets: []kafka.Target{{Name: "bus", Brokers: broker.Addrs()}}}, nil)
	require.NoError(t, err)
	t.Cleanup(d.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const partitions = 12
	_, err = d.Execute(ctx, "bus", events.KafkaEnsureTopic{On: events.On{Target: "bus"}, Topic: "keyed",
		Partitions: partitions, ReplicationFactor: 1})
	require.NoError(t, err)

	franz := kgo.StickyKeyPartitioner(nil).ForTopic("keyed")
	for i := range 50 {
		key := fmt.Sprintf("order-%d", i)
		res, err := d.Execute(ctx, "bus", events.KafkaPublish{On: events.On{Target: "bus"}, Topic: "keyed", RecordKey: key, Payload: "x"})
		require.NoError(t, err)
		want := franz.Partition(&kgo.Record{Key: []byte(key)}, partitions)
		require.Equal(t, int32(want), res.(events.KafkaPublishResult).Partition, "key %s", key)
	}
}

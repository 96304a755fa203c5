package integration_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/bus"
)

// The same keys produced through omni's publisher (the relay's) and through franz-go's client
// with its default partitioner land, key by key, on the same partition: per-key order holds
// whichever of them produced a key's records.
func TestPartitioning_omni_puts_each_key_where_franz_go_does(t *testing.T) {
	broker := newKafka(t)
	const topic, partitions, keys = "keyed", 7, 200
	createTopic(t, broker.Brokers(), topic, partitions)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	pub, err := bus.NewPublisher(broker.Brokers(), bus.Security{}, watermill.NopLogger{})
	require.NoError(t, err)
	defer pub.Close()
	franz, err := kgo.NewClient(kgo.SeedBrokers(broker.Brokers()...))
	require.NoError(t, err)
	defer franz.Close()
	var msgs []*message.Message
	var records []*kgo.Record
	for i := range keys {
		key := fmt.Sprintf("target-%d", i)
		m := message.NewMessage(watermill.NewUUID(), []byte("x"))
		m.Metadata.Set(events.MetaKey, key)
		m.Metadata.Set("producer", "omni")
		msgs = append(msgs, m)
		records = append(records, &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte("x"),
			Headers: []kgo.RecordHeader{{Key: "producer", Value: []byte("franz-go")}}})
	}
	require.NoError(t, pub.Publish(topic, msgs...))
	require.NoError(t, franz.ProduceSync(ctx, records...).FirstErr())

	landed := map[string]map[string]int32{"omni": {}, "franz-go": {}} // producer → key → partition
	for _, r := range consumeAll(t, broker.Brokers(), topic, 3*time.Second, 2*keys) {
		landed[header(r, "producer")][string(r.Key)] = r.Partition
	}
	require.Len(t, landed["omni"], keys)
	require.Len(t, landed["franz-go"], keys)
	used := map[int32]bool{}
	for key, p := range landed["franz-go"] {
		require.Equal(t, p, landed["omni"][key], "key %s", key)
		used[p] = true
	}
	require.Len(t, used, partitions, "the keys spread over every partition, so the comparison means something")
}

// createTopic makes topic with the given partitions on the broker, through franz-go.
func createTopic(t *testing.T, brokers []string, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 10000
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Len(t, resp.Topics, 1)
	require.NoError(t, kerr.ErrorForCode(resp.Topics[0].ErrorCode), "creating %s", topic)
}

package bench_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/omninode/omnibase-infra/events"
)

// partitions of every topic the benchmarks make: the broker's default for topics it creates on
// first use, so a topic made here is one the loop could have made itself.
const partitions = 4

// broker is the benchmarks' view of the Kafka-protocol broker: topics made before a measurement
// (so no producer waits for one to be created on first use inside it) and dropped after (the
// broker keeps every record in memory), and how many records a topic holds.
type broker struct {
	cl *kgo.Client
}

func newBroker(b *testing.B) broker {
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka.Brokers()...))
	require.NoError(b, err)
	b.Cleanup(cl.Close)
	return broker{cl: cl}
}

// create makes topics, each of partitions partitions.
func (k broker) create(b *testing.B, topics ...string) {
	req := kmsg.NewPtrCreateTopicsRequest()
	for _, topic := range topics {
		t := kmsg.NewCreateTopicsRequestTopic()
		t.Topic, t.NumPartitions, t.ReplicationFactor = topic, partitions, 1
		req.Topics = append(req.Topics, t)
	}
	resp, err := req.RequestWith(context.Background(), k.cl)
	require.NoError(b, err)
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			b.Fatalf("could not create topic %s: %v", t.Topic, err)
		}
	}
}

// drop deletes topics and the records they hold.
func (k broker) drop(b *testing.B, topics ...string) {
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TopicNames = topics
	for _, topic := range topics {
		t := kmsg.NewDeleteTopicsRequestTopic()
		t.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, t)
	}
	resp, err := req.RequestWith(context.Background(), k.cl)
	require.NoError(b, err)
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
			b.Fatalf("could not delete topic %v: %v", t.Topic, err)
		}
	}
}

// records is how many records topic holds: the sum of its partitions' end offsets. A record is
// counted once the broker has appended it, which is when it acknowledges it to its producer.
func (k broker) records(ctx context.Context, topic string) (int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = topic
	for p := range int32(partitions) {
		part := kmsg.NewListOffsetsRequestTopicPartition()
		part.Partition, part.Timestamp = p, -1 // -1: the end of the log
		t.Partitions = append(t.Partitions, part)
	}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, k.cl)
	if err != nil {
		return 0, fmt.Errorf("could not list the end offsets of %s: %w", topic, err)
	}
	var n int64
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return 0, fmt.Errorf("could not list the end offset of %s/%d: %w", topic, p.Partition, err)
			}
			n += p.Offset
		}
	}
	return n, nil
}

// waitRecords returns once topic holds n records; it polls the end offsets every 2ms, which costs
// the broker far less than consuming what is being measured. It fails when the producer stops
// (its error on stopped) first.
func (k broker) waitRecords(b *testing.B, topic string, n int, stopped <-chan error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for {
		got, err := k.records(ctx, topic)
		require.NoError(b, err)
		if got >= int64(n) {
			return
		}
		select {
		case <-ctx.Done():
			b.Fatalf("%s holds %d of %d records", topic, got, n)
		case err := <-stopped:
			b.Fatalf("the producer stopped with %s holding %d of %d records: %v", topic, got, n, err)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// kafkaRecord is m as the project's Kafka publisher writes it: keyed by the envelope's key, the
// message UUID and metadata in headers.
func kafkaRecord(topic string, m *message.Message) *kgo.Record {
	r := &kgo.Record{Topic: topic, Key: []byte(m.Metadata.Get(events.MetaKey)), Value: m.Payload,
		Headers: []kgo.RecordHeader{{Key: "_watermill_message_uuid", Value: []byte(m.UUID)}}}
	for k, v := range m.Metadata {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	return r
}

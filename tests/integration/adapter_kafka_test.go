package integration_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/kafka"
	"github.com/omninode/omnibase-infra/tests/containers"
)

func onBus() events.On { return events.On{Target: "bus"} }

// Publish lands on the broker as asked, read back by franz-go's own client, not the project's.
func TestKafkaAdapter_publish_is_read_back_by_another_client(t *testing.T) {
	broker := newKafka(t)
	url, db := newControlDB(t)
	startApp(t, adapterConfig(url, broker.Brokers()))
	c := newCommander(t, db, broker.Brokers())

	caused := c.run(events.KafkaPublish{On: onBus(), Topic: "orders", RecordKey: "order-7",
		Headers: map[string]string{"source": "test"}, Payload: `{"total":42}`})
	var res struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
	}
	done := succeeded(t, caused, &res)
	require.Equal(t, "kafka/bus", done.AdapterID)
	require.Equal(t, "orders", res.Topic)

	c.run(events.KafkaPublish{On: onBus(), Topic: "orders", RecordKey: "bin", Payload: "AAEC/w==", Base64: true})

	records := consumeAll(t, broker.Brokers(), "orders", 3*time.Second, 2)
	require.Len(t, records, 2)
	var first *kgo.Record
	for _, r := range records {
		if string(r.Key) == "order-7" {
			first = r
		} else {
			require.Equal(t, []byte{0, 1, 2, 255}, r.Value, "base64 payloads are decoded")
		}
	}
	require.NotNil(t, first)
	require.Equal(t, `{"total":42}`, string(first.Value))
	require.Equal(t, "test", header(first, "source"))
	require.Len(t, first.Headers, 2, "the command's headers and the command id")
	require.Equal(t, done.CommandID, header(first, kafka.CommandIDHeader), "consumers can deduplicate on the command id")
	require.Equal(t, res.Partition, first.Partition)
	require.Equal(t, res.Offset, first.Offset)

	bad := failed(t, c.run(events.KafkaPublish{On: onBus(), Topic: "orders", Payload: "not base64!", Base64: true}))
	require.False(t, bad.Transient)
	require.Equal(t, 1, bad.Attempts)
	require.Contains(t, bad.Error, "payload is not base64")

	forged := failed(t, c.run(events.KafkaPublish{On: onBus(), Topic: "orders", Payload: "x",
		Headers: map[string]string{kafka.CommandIDHeader: "someone else"}}))
	require.False(t, forged.Transient)
	require.Contains(t, forged.Error, "is set by the adapter")
	require.Len(t, consumeAll(t, broker.Brokers(), "orders", 2*time.Second, 3), 2, "neither bad command produced a record")
}

func TestKafkaAdapter_ensure_topic_creates_then_matches_then_names_a_conflict(t *testing.T) {
	broker := newKafka(t)
	url, db := newControlDB(t)
	startApp(t, adapterConfig(url, broker.Brokers()))
	c := newCommander(t, db, broker.Brokers())
	ensure := events.KafkaEnsureTopic{On: onBus(), Topic: "payments", Partitions: 3, ReplicationFactor: 1,
		Configs: map[string]string{"retention.ms": "3600000"}}

	var res struct {
		Topic   string `json:"topic"`
		Created bool   `json:"created"`
	}
	succeeded(t, c.run(ensure), &res)
	require.True(t, res.Created)
	succeeded(t, c.run(ensure), &res)
	require.False(t, res.Created, "already as asked: a no-op")

	// The broker itself says what it has, through franz-go.
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker.Brokers()...))
	require.NoError(t, err)
	defer cl.Close()
	require.Equal(t, map[string]int{"payments": 3}, metadata(t, cl, "payments"))

	conflict := ensure
	conflict.Partitions = 6
	conflict.ReplicationFactor = 3
	conflict.Configs = map[string]string{"retention.ms": "60000"}
	f := failed(t, c.run(conflict))
	require.False(t, f.Transient, "a conflict is not retried")
	require.Equal(t, 1, f.Attempts)
	require.Equal(t, "kafka/bus", f.AdapterID)
	require.Contains(t, f.Error, "topic payments exists and differs")
	require.Contains(t, f.Error, "it has 3 partitions, the command wants 6")
	require.Contains(t, f.Error, "its replication factor is 1, the command wants 3")
	require.Contains(t, f.Error, `config retention.ms is "3600000", the command wants "60000"`)
	require.Equal(t, map[string]int{"payments": 3}, metadata(t, cl, "payments"), "a conflict changes nothing")

	// A topic the broker cannot make as asked (three replicas on one broker): refused, not retried.
	impossible := events.KafkaEnsureTopic{On: onBus(), Topic: "refunds", Partitions: 1, ReplicationFactor: 3}
	f = failed(t, c.run(impossible))
	require.False(t, f.Transient, f.Error)
	require.Equal(t, 1, f.Attempts)
	require.Contains(t, f.Error, "could not create topic refunds")
}

// A publish to one of the loop's own topics is refused at once, naming the topic and the flag, and
// nothing lands there; the refusals are not retried and do not count against the breaker, so the
// target still publishes elsewhere after more refusals than the breaker allows failures.
func TestKafkaAdapter_publish_refuses_the_control_topics(t *testing.T) {
	broker := newKafka(t)
	url, db := newControlDB(t)
	cfg := adapterConfig(url, broker.Brokers())
	cfg.Adapters.Breaker.Failures = 2
	startApp(t, cfg)
	c := newCommander(t, db, broker.Brokers())

	topics := events.DefaultTopics()
	refused := map[string]string{} // topic → the refused command's id
	for _, topic := range []string{topics.Events, topics.Intents, topics.Commands(events.AdapterKafka),
		topics.Commands(events.AdapterPostgres), topics.Poison("adapter-kafka"), topics.Poison("saga-intake")} {
		f := failed(t, c.run(events.KafkaPublish{On: onBus(), Topic: topic, RecordKey: "k", Payload: "forged"}))
		require.False(t, f.Transient, "%s: %s", topic, f.Error)
		require.Equal(t, 1, f.Attempts, "%s: not retried", topic)
		require.Equal(t, "kafka/bus", f.AdapterID)
		require.Contains(t, f.Error, fmt.Sprintf(`topic %q is a control topic of this omnibase-infra; publishing to it from `+
			`the kafka adapter would bypass the outbox (allow it with --kafka-allow-control-topics)`, topic))
		refused[topic] = f.CommandID
	}

	// More refusals than the breaker's failures, and the target still publishes: none counted.
	done := succeeded(t, c.run(events.KafkaPublish{On: onBus(), Topic: "orders", RecordKey: "k", Payload: "fine"}), nil)
	require.Len(t, consumeAll(t, broker.Brokers(), "orders", 2*time.Second, 1), 1)
	require.Equal(t, 1, done.Attempts)

	cl, err := kgo.NewClient(kgo.SeedBrokers(broker.Brokers()...))
	require.NoError(t, err)
	defer cl.Close()
	onBroker := metadata(t, cl)
	for topic, id := range refused {
		if _, ok := onBroker[topic]; !ok {
			continue // never created: nothing can be on it
		}
		for _, r := range consumeAll(t, broker.Brokers(), topic, 2*time.Second, 100000) {
			require.NotEqual(t, id, header(r, kafka.CommandIDHeader), "the refused publish to %s produced a record", topic)
			require.NotEqual(t, "forged", string(r.Value), "a record from the adapter on %s", topic)
		}
	}
}

// With --kafka-allow-control-topics the adapter publishes to a control topic as to any other.
func TestKafkaAdapter_publish_to_a_control_topic_when_allowed(t *testing.T) {
	broker := newKafka(t)
	url, db := newControlDB(t)
	cfg := adapterConfig(url, broker.Brokers())
	cfg.Kafka.AllowControlTopics = true
	startApp(t, cfg)
	c := newCommander(t, db, broker.Brokers())

	intents := events.DefaultTopics().Intents
	done := succeeded(t, c.run(events.KafkaPublish{On: onBus(), Topic: intents, RecordKey: "k", Payload: "allowed"}), nil)
	records := consumeAll(t, broker.Brokers(), intents, 2*time.Second, 10)
	require.Len(t, records, 1)
	require.Equal(t, "allowed", string(records[0].Value))
	require.Equal(t, done.CommandID, header(records[0], kafka.CommandIDHeader))
}

// metadata returns the partition count of each topic asked for, as the broker reports it; of
// every topic when none is asked for.
func metadata(t *testing.T, cl *kgo.Client, topics ...string) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsgMetadata(topics)
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)
	out := map[string]int{}
	for _, tp := range resp.Topics {
		out[*tp.Topic] = len(tp.Partitions)
	}
	return out
}

func TestKafkaAdapter_describe_cluster_and_probe_details(t *testing.T) {
	broker := newKafka(t)
	url, db := newControlDB(t)
	startApp(t, adapterConfig(url, broker.Brokers()))
	c := newCommander(t, db, broker.Brokers())

	var res struct {
		Brokers []struct {
			ID   int32  `json:"id"`
			Addr string `json:"addr"`
		} `json:"brokers"`
		ControllerID int32 `json:"controller_id"`
		Topics       int   `json:"topics"`
	}
	succeeded(t, c.run(events.KafkaDescribeCluster{On: onBus()}), &res)
	require.Len(t, res.Brokers, 1)
	require.Equal(t, broker.Addr, res.Brokers[0].Addr)
	require.Equal(t, res.Brokers[0].ID, res.ControllerID)
	require.Positive(t, res.Topics, "the bus carries the control plane's own topics")

	c.run(events.KafkaPublish{On: onBus(), Topic: "t", Payload: "x"})
	caused := c.run(events.ProbeTarget{Adapter: events.AdapterKafka, Target: "bus"})
	succeeded(t, caused, nil)
	health, ok := caused[0].Event.(events.AdapterHealthReported)
	require.True(t, ok, "%#v", caused[0].Event)
	require.True(t, health.Healthy)
	require.Equal(t, strconv.Itoa(int(res.ControllerID)), health.Details["controller_id"])
	require.Equal(t, "1", health.Details["brokers"])
	require.Equal(t, "0", health.Details["producer_errors"])
	require.Equal(t, "0.000", health.Details["producer_error_rate"])
	for _, key := range []string{"metadata_latency_us", "topics", "producer_publishes"} {
		n, err := strconv.Atoi(health.Details[key])
		require.NoError(t, err, "%s: %v", key, health.Details)
		require.GreaterOrEqual(t, n, 0, key)
	}
	require.Len(t, health.Details, 7, "every documented key, no other: %v", health.Details)
}

// A cluster nobody listens for: the publish fails as transient after its retries, and the probe
// says the target is unhealthy.
func TestKafkaAdapter_unreachable_cluster_fails_transiently_and_probes_unhealthy(t *testing.T) {
	broker := newKafka(t)
	url, db := newControlDB(t)
	port, err := containers.FreePort()
	require.NoError(t, err)
	cfg := adapterConfig(url, broker.Brokers())
	cfg.Kafka.Targets = []kafka.Target{{Name: "bus", Brokers: broker.Brokers()}, {Name: "down", Brokers: []string{fmt.Sprintf("127.0.0.1:%d", port)}}}
	cfg.Adapters.Breaker.Failures = 100 // the breaker is the Consul adapter's test's subject; here, the errors
	startApp(t, cfg)
	c := newCommander(t, db, broker.Brokers())

	probeDown := func() events.AdapterHealthReported {
		t.Helper()
		caused := c.run(events.ProbeTarget{Adapter: events.AdapterKafka, Target: "down"})
		health, ok := caused[0].Event.(events.AdapterHealthReported)
		require.True(t, ok, "%#v", caused[0].Event)
		return health
	}
	require.False(t, probeDown().Healthy, "down from the start, and yet the app started")

	f := failed(t, c.run(events.KafkaPublish{On: events.On{Target: "down"}, Topic: "t", Payload: "x"}))
	require.True(t, f.Transient, f.Error)
	require.Equal(t, 3, f.Attempts, "retried: %s", f.Error)
	require.Equal(t, "kafka/down", f.AdapterID)

	health := probeDown()
	require.False(t, health.Healthy)
	require.Equal(t, "kafka/down", health.AdapterID)
	require.Contains(t, health.Error, "could not reach kafka target")
	require.Equal(t, "3", health.Details["producer_publishes"], "each attempt counts")
	require.Equal(t, "3", health.Details["producer_errors"], "each failed attempt counts in the error rate")
	require.Equal(t, "1.000", health.Details["producer_error_rate"])
	require.NotContains(t, health.Details, "metadata_latency_us", "no metadata from a cluster that did not answer")

	// The reachable target is not dragged down with it.
	succeeded(t, c.run(events.KafkaPublish{On: onBus(), Topic: "t", Payload: "x"}), nil)
}

func kmsgMetadata(topics []string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	return req
}

package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/kafka"
)

func TestTransient(t *testing.T) {
	dialErr := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for name, c := range map[string]struct {
		err  error
		want bool
	}{
		"no_leader":                   {fmt.Errorf("publish: %w", sarama.ErrLeaderNotAvailable), true},
		"not_leader_for_partition":    {&sarama.ProducerError{Err: sarama.ErrNotLeaderForPartition}, true},
		"request_timed_out":           {&sarama.ProducerError{Err: sarama.ErrRequestTimedOut}, true},
		"not_enough_replicas":         {sarama.ErrNotEnoughReplicas, true},
		"not_enough_replicas_append":  {&sarama.ProducerError{Err: sarama.ErrNotEnoughReplicasAfterAppend}, true},
		"network_exception":           {sarama.ErrNetworkException, true},
		"broker_not_available":        {sarama.ErrBrokerNotAvailable, true},
		"not_controller":              {&sarama.TopicError{Err: sarama.ErrNotController}, true},
		"throttled":                   {sarama.ErrThrottlingQuotaExceeded, true},
		"unknown_topic_being_created": {sarama.ErrUnknownTopicOrPartition, true},
		"out_of_brokers":              {fmt.Errorf("could not reach: %w", sarama.ErrOutOfBrokers), true},
		"not_connected":               {sarama.ErrNotConnected, true},
		"closed_client":               {sarama.ErrClosedClient, true},
		"connection_refused":          {fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		"net_error":                   {fmt.Errorf("metadata: %w", dialErr), true},
		"eof":                         {io.EOF, true},
		"deadline":                    {context.DeadlineExceeded, true},
		"message_too_large":           {&sarama.ProducerError{Err: sarama.ErrMessageSizeTooLarge}, false},
		"invalid_topic":               {sarama.ErrInvalidTopic, false},
		"topic_not_authorized":        {sarama.ErrTopicAuthorizationFailed, false},
		"cluster_not_authorized":      {sarama.ErrClusterAuthorizationFailed, false},
		"invalid_config":              {&sarama.TopicError{Err: sarama.ErrInvalidConfig}, false},
		"invalid_replication_factor":  {sarama.ErrInvalidReplicationFactor, false},
		"policy_violation":            {sarama.ErrPolicyViolation, false},
		"invalid_record":              {sarama.ErrInvalidRecord, false},
		"unknown_server_error":        {sarama.ErrUnknown, false},
		"topic_already_exists":        {sarama.ErrTopicAlreadyExists, false},
		"cancelled":                   {context.Canceled, false},
		"anything_else":               {errors.New("boom"), false},
		"nil":                         {nil, false},
	} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, c.want, (&kafka.Driver{}).Transient(c.err), "%v", c.err)
		})
	}
}

func TestTopicDiff(t *testing.T) {
	have := kafka.TopicShape{Partitions: 3, ReplicationFactor: 1,
		Configs: map[string]string{"retention.ms": "1000", "cleanup.policy": "delete"}}
	for name, c := range map[string]struct {
		want events.KafkaEnsureTopic
		diff []string
	}{
		"same_shape_without_configs": {
			want: events.KafkaEnsureTopic{Topic: "t", Partitions: 3, ReplicationFactor: 1},
		},
		"configs_not_asked_about_are_left_alone": {
			want: events.KafkaEnsureTopic{Topic: "t", Partitions: 3, ReplicationFactor: 1,
				Configs: map[string]string{"retention.ms": "1000"}},
		},
		"more_partitions": {
			want: events.KafkaEnsureTopic{Topic: "t", Partitions: 6, ReplicationFactor: 1},
			diff: []string{"it has 3 partitions, the command wants 6"},
		},
		"fewer_partitions": {
			want: events.KafkaEnsureTopic{Topic: "t", Partitions: 1, ReplicationFactor: 1},
			diff: []string{"it has 3 partitions, the command wants 1"},
		},
		"every_difference_in_order": {
			want: events.KafkaEnsureTopic{Topic: "t", Partitions: 6, ReplicationFactor: 3,
				Configs: map[string]string{"retention.ms": "5000", "max.message.bytes": "100", "cleanup.policy": "delete"}},
			diff: []string{
				"it has 3 partitions, the command wants 6",
				"its replication factor is 1, the command wants 3",
				`config max.message.bytes is not set, the command wants "100"`,
				`config retention.ms is "1000", the command wants "5000"`,
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, c.diff, kafka.TopicDiff(have, c.want))
		})
	}
}

func TestProducerMessage(t *testing.T) {
	value := func(t *testing.T, cmd events.KafkaPublish) []byte {
		t.Helper()
		msg, err := kafka.ProducerMessage(cmd, "")
		require.NoError(t, err)
		b, err := msg.Value.Encode()
		require.NoError(t, err)
		return b
	}
	t.Run("text_payload_as_is", func(t *testing.T) {
		require.Equal(t, []byte(`{"total":42}`), value(t, events.KafkaPublish{Topic: "t", Payload: `{"total":42}`}))
	})
	t.Run("base64_payload_decoded", func(t *testing.T) {
		require.Equal(t, []byte{0, 1, 2, 255}, value(t, events.KafkaPublish{Topic: "t", Payload: "AAEC/w==", Base64: true}))
	})
	t.Run("text_that_looks_like_base64_is_not_decoded", func(t *testing.T) {
		require.Equal(t, []byte("AAEC/w=="), value(t, events.KafkaPublish{Topic: "t", Payload: "AAEC/w=="}))
	})
	t.Run("empty_base64_payload_is_an_empty_value", func(t *testing.T) {
		require.Empty(t, value(t, events.KafkaPublish{Topic: "t", Payload: "", Base64: true}))
	})
	for name, bad := range map[string]string{
		"not_base64":      "not base64!",
		"url_alphabet":    "AAEC_w==",
		"missing_padding": "AAEC/w",
	} {
		t.Run("bad_base64_"+name+"_is_a_bad_command", func(t *testing.T) {
			_, err := kafka.ProducerMessage(events.KafkaPublish{Topic: "t", Payload: bad, Base64: true}, "id")
			require.ErrorContains(t, err, "payload is not base64")
			require.False(t, (&kafka.Driver{}).Transient(err), "never retried")
		})
	}
	t.Run("key_headers_in_order_and_the_command_id_last", func(t *testing.T) {
		msg, err := kafka.ProducerMessage(events.KafkaPublish{Topic: "orders", RecordKey: "order-7", Payload: "x",
			Headers: map[string]string{"b": "2", "a": "1"}}, "cmd-1")
		require.NoError(t, err)
		require.Equal(t, "orders", msg.Topic)
		key, err := msg.Key.Encode()
		require.NoError(t, err)
		require.Equal(t, []byte("order-7"), key)
		require.Equal(t, []sarama.RecordHeader{
			{Key: []byte("a"), Value: []byte("1")},
			{Key: []byte("b"), Value: []byte("2")},
			{Key: []byte(kafka.CommandIDHeader), Value: []byte("cmd-1")},
		}, msg.Headers)
	})
	t.Run("no_key_leaves_the_key_null", func(t *testing.T) {
		msg, err := kafka.ProducerMessage(events.KafkaPublish{Topic: "t", Payload: "x"}, "")
		require.NoError(t, err)
		require.Nil(t, msg.Key)
		require.Empty(t, msg.Headers)
	})
	t.Run("the_command_id_header_is_reserved", func(t *testing.T) {
		_, err := kafka.ProducerMessage(events.KafkaPublish{Topic: "t", Payload: "x",
			Headers: map[string]string{kafka.CommandIDHeader: "forged"}}, "cmd-1")
		require.ErrorContains(t, err, "header omni_command_id is set by the adapter")
		require.False(t, (&kafka.Driver{}).Transient(err))
	})
}

func TestProducerStatsDetails(t *testing.T) {
	require.Equal(t, map[string]string{"producer_publishes": "0", "producer_errors": "0", "producer_error_rate": "0.000"},
		kafka.ProducerStatsDetails(0, 0))
	require.Equal(t, map[string]string{"producer_publishes": "4", "producer_errors": "1", "producer_error_rate": "0.250"},
		kafka.ProducerStatsDetails(4, 1))
}

func TestConfig_and_ParseTarget(t *testing.T) {
	tgt, err := kafka.ParseTarget("bus=127.0.0.1:9092, 127.0.0.1:9093")
	require.NoError(t, err)
	require.Equal(t, kafka.Target{Name: "bus", Brokers: []string{"127.0.0.1:9092", "127.0.0.1:9093"}}, tgt)
	for _, bad := range []string{"bus", "=127.0.0.1:9092", "bus="} {
		_, err = kafka.ParseTarget(bad)
		require.ErrorContains(t, err, "want NAME=HOST:PORT", bad)
	}

	err = kafka.Config{Targets: []kafka.Target{{Name: "a/b", Brokers: []string{"x"}}, {Name: "", Brokers: nil},
		{Name: "bus", Brokers: []string{"h:1"}}, {Name: "bus", Brokers: []string{"h:2"}}}, Producers: -1}.Validate()
	for _, want := range []string{`kafka target "a/b": the name contains "/"`, `broker "x" is not HOST:PORT`, "target 1 has no name",
		`target "" has no brokers`, `kafka target "bus": given twice`, "negative Producers"} {
		require.ErrorContains(t, err, want)
	}
	require.ErrorContains(t, kafka.Config{}.Validate(), "no targets")

	_, err = kafka.New(kafka.Config{}, nil)
	require.ErrorContains(t, err, "invalid config")
}

// A cluster nobody listens for: New does not fail, commands and probes fail as transient and
// count in the producer error rate, and Close leaves nothing usable.
func TestDriver_down_cluster(t *testing.T) {
	d, err := kafka.New(kafka.Config{Targets: []kafka.Target{{Name: "down", Brokers: []string{"127.0.0.1:1"}}}}, nil)
	require.NoError(t, err, "a cluster that is down at start-up is not an error")
	require.Equal(t, []string{"down"}, d.Targets())
	require.Len(t, d.Commands(), 3)
	ctx := context.Background()

	_, err = d.Execute(ctx, "down", events.KafkaPublish{On: events.On{Target: "down"}, Topic: "t", Payload: "x"})
	require.Error(t, err)
	require.True(t, d.Transient(err), "an unreachable cluster is transient: %v", err)
	_, err = d.Execute(ctx, "down", events.KafkaPublish{On: events.On{Target: "down"}, Topic: "t", Payload: "!", Base64: true})
	require.ErrorContains(t, err, "payload is not base64")
	_, err = d.Execute(ctx, "down", events.KafkaDescribeCluster{On: events.On{Target: "down"}})
	require.True(t, d.Transient(err), "%v", err)

	h, err := d.Probe(ctx, "down")
	require.Error(t, err)
	require.True(t, d.Transient(err), "%v", err)
	require.Equal(t, map[string]string{"producer_publishes": "1", "producer_errors": "1", "producer_error_rate": "1.000"},
		h.Details, "the bad base64 never reached a producer")
	h, _ = d.Probe(ctx, "down")
	require.Equal(t, "0", h.Details["producer_publishes"], "counters restart with every probe")

	_, err = d.Execute(ctx, "elsewhere", events.KafkaDescribeCluster{On: events.On{Target: "elsewhere"}})
	require.ErrorContains(t, err, `kafka target "elsewhere" is not configured`)
	_, err = d.Probe(ctx, "elsewhere")
	require.Error(t, err)

	d.Close()
	d.Close()
	_, err = d.Execute(ctx, "down", events.KafkaDescribeCluster{On: events.On{Target: "down"}})
	require.ErrorContains(t, err, "kafka driver closed")
}

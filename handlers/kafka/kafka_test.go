package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
)

func TestTransient(t *testing.T) {
	for name, c := range map[string]struct {
		err  error
		want bool
	}{
		"no leader":                {fmt.Errorf("publish: %w", sarama.ErrLeaderNotAvailable), true},
		"request timed out":        {&sarama.ProducerError{Err: sarama.ErrRequestTimedOut}, true},
		"not enough replicas":      {sarama.ErrNotEnoughReplicas, true},
		"out of brokers":           {fmt.Errorf("could not reach: %w", sarama.ErrOutOfBrokers), true},
		"connection refused":       {fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		"EOF":                      {io.EOF, true},
		"deadline":                 {context.DeadlineExceeded, true},
		"message too large":        {&sarama.ProducerError{Err: sarama.ErrMessageSizeTooLarge}, false},
		"invalid topic":            {sarama.ErrInvalidTopic, false},
		"not authorized":           {sarama.ErrTopicAuthorizationFailed, false},
		"cancelled":                {context.Canceled, false},
		"bad base64":               {fmt.Errorf("%w: payload is not base64", errBadCommand), false},
		"conflicting topic":        {fmt.Errorf("%w: topic t exists and differs", errConflict), false},
		"anything else":            {errors.New("boom"), false},
		"topic already exists":     {sarama.ErrTopicAlreadyExists, false},
		"invalid replication":      {sarama.ErrInvalidReplicationFactor, false},
		"unknown topic (creating)": {sarama.ErrUnknownTopicOrPartition, true},
	} {
		require.Equal(t, c.want, transient(c.err), name)
	}
}

func TestTopicDiff_names_every_difference_and_ignores_unasked_configs(t *testing.T) {
	have := topicShape{Partitions: 3, ReplicationFactor: 1, Configs: map[string]string{"retention.ms": "1000", "cleanup.policy": "delete"}}
	want := events.KafkaEnsureTopic{Topic: "t", Partitions: 3, ReplicationFactor: 1, Configs: map[string]string{"retention.ms": "1000"}}
	require.Empty(t, topicDiff(have, want))

	want = events.KafkaEnsureTopic{Topic: "t", Partitions: 6, ReplicationFactor: 3,
		Configs: map[string]string{"retention.ms": "5000", "max.message.bytes": "100"}}
	require.Equal(t, []string{
		"it has 3 partitions, the command wants 6",
		"its replication factor is 1, the command wants 3",
		`config max.message.bytes is not set, the command wants "100"`,
		`config retention.ms is "1000", the command wants "5000"`,
	}, topicDiff(have, want))
}

func TestConfig_and_ParseTarget(t *testing.T) {
	tgt, err := ParseTarget("bus=127.0.0.1:9092, 127.0.0.1:9093")
	require.NoError(t, err)
	require.Equal(t, Target{Name: "bus", Brokers: []string{"127.0.0.1:9092", "127.0.0.1:9093"}}, tgt)
	_, err = ParseTarget("bus")
	require.ErrorContains(t, err, "want NAME=HOST:PORT")

	err = Config{Targets: []Target{{Name: "a/b", Brokers: []string{"x"}}, {Name: "", Brokers: nil}}, Producers: -1}.Validate()
	for _, want := range []string{`target name "a/b" contains "/"`, `broker "x" is not HOST:PORT`, "target 1 has no name",
		`target "" has no brokers`, "negative Producers"} {
		require.ErrorContains(t, err, want)
	}
}

func TestNew_does_not_connect(t *testing.T) {
	d, err := New(Config{Targets: []Target{{Name: "down", Brokers: []string{"127.0.0.1:1"}}}}, nil)
	require.NoError(t, err, "a cluster that is down at start-up is not an error")
	defer d.Close()
	require.Equal(t, []string{"down"}, d.Targets())
	_, err = d.Probe(context.Background(), "down")
	require.Error(t, err)
	require.True(t, d.Transient(err), "an unreachable cluster is transient: %v", err)
}

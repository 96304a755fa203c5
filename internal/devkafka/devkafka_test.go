package devkafka_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/omninode/omnibase-infra/internal/devkafka"
)

var logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

func TestBroker_creates_topics_on_first_use_and_serves_sarama_consumer_groups(t *testing.T) {
	b, err := devkafka.Start(devkafka.Config{}, logger)
	require.NoError(t, err)
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.AllowAutoTopicCreation())
	require.NoError(t, err)
	defer cl.Close()
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "never.created", Key: []byte("k"), Value: []byte("hello")}).FirstErr())

	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	group, err := sarama.NewConsumerGroup(b.Addrs(), "g", cfg)
	require.NoError(t, err)
	defer group.Close()
	got := make(chan string, 1)
	go func() { _ = group.Consume(ctx, []string{"never.created"}, handler{got}) }()
	select {
	case v := <-got:
		require.Equal(t, "hello", v)
	case <-ctx.Done():
		t.Fatal("the Sarama consumer group read nothing")
	}
}

func TestConfig_names_every_problem(t *testing.T) {
	_, err := devkafka.Start(devkafka.Config{Addr: "no-port", NumPartitions: -1}, logger)
	require.ErrorContains(t, err, `broker address "no-port"`)
	require.ErrorContains(t, err, "partitions per topic is -1")
}

type handler struct{ got chan string }

func (handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h handler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		s.MarkMessage(m, "")
		select {
		case h.got <- string(m.Value):
		default:
		}
	}
	return nil
}

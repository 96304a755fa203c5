// Package bus builds the Watermill Kafka publishers and subscribers every role uses, configured
// once: messages are keyed by the envelope's key and partitioned as the Java client partitions
// (so order holds per key, whoever else produces the topic), and new consumer groups start from
// the oldest offset (so nothing published before a consumer first joined is missed).
package bus

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/omninode/omnibase-infra/events"
)

// WARNING: watermill-kafka's default Sarama version (1.0) works, but Sarama older than v1.61 loops on
// "invalid byteslice length" against the Kafka-protocol broker from 2.4 on; go.mod requires v1.61+.
var saramaVersion = sarama.V2_8_0_0

// marshaler keys every Kafka record by the envelope's key.
var marshaler = kafka.NewWithPartitioningMarshaler(func(_ string, msg *message.Message) (string, error) {
	return msg.Metadata.Get(events.MetaKey), nil
})

// NewPublisher returns a synchronous Kafka publisher.
func NewPublisher(brokers []string, sec Security, logger watermill.LoggerAdapter) (*kafka.Publisher, error) {
	cfg := kafka.DefaultSaramaSyncPublisherConfig()
	cfg.Version = saramaVersion
	cfg.ClientID = "omnibase-infra"
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Idempotent = false
	cfg.Producer.Partitioner = NewPartitioner
	cfg.Metadata.Retry.Backoff = 250 * time.Millisecond
	if err := sec.Sarama(cfg); err != nil {
		return nil, err
	}
	pub, err := kafka.NewPublisher(kafka.PublisherConfig{
		Brokers:               brokers,
		Marshaler:             marshaler,
		OverwriteSaramaConfig: cfg,
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("could not create Kafka publisher for %v: %w", brokers, err)
	}
	return pub, nil
}

// NewSubscriber returns a subscriber in consumerGroup, a member of it as m says.
func NewSubscriber(brokers []string, sec Security, consumerGroup string, m Membership, logger watermill.LoggerAdapter) (*kafka.Subscriber, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("consumer group %q: %w", consumerGroup, err)
	}
	cfg := kafka.DefaultSaramaSubscriberConfig()
	cfg.Version = saramaVersion
	cfg.ClientID = "omnibase-infra"
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Metadata.Retry.Backoff = 250 * time.Millisecond
	m.apply(cfg)
	boundBuffers(cfg)
	if err := sec.Sarama(cfg); err != nil {
		return nil, err
	}
	sub, err := kafka.NewSubscriber(kafka.SubscriberConfig{
		Brokers:               brokers,
		Unmarshaler:           marshaler,
		OverwriteSaramaConfig: cfg,
		ConsumerGroup:         consumerGroup,
		ReconnectRetrySleep:   500 * time.Millisecond,
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("could not create Kafka subscriber for group %q on %v: %w", consumerGroup, brokers, err)
	}
	return sub, nil
}

// clientConfig is the Sarama configuration every client here starts from.
func clientConfig(clientID string) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = saramaVersion
	cfg.ClientID = clientID
	cfg.Metadata.Retry.Backoff = 250 * time.Millisecond
	return cfg
}

// boundBuffers keeps what a consumer reads ahead small: a consumer that falls behind (the
// projection under a burst) would otherwise hold 256 messages and a 1 MB fetch per partition in
// memory, for every consumer group of the process. A batch is at most a few hundred messages, and
// a fetch of 256 KiB holds a few hundred of them.
func boundBuffers(cfg *sarama.Config) {
	cfg.ChannelBufferSize = 64
	cfg.Consumer.Fetch.Default = 256 << 10
}

// NewConsumerGroup joins nothing yet: it returns a consumer group that starts new groups from the
// oldest offset, as every subscriber here does, a member of it as m says.
func NewConsumerGroup(brokers []string, sec Security, group string, m Membership) (sarama.ConsumerGroup, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("consumer group %q: %w", group, err)
	}
	cfg := clientConfig("omnibase-infra")
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	m.apply(cfg)
	boundBuffers(cfg)
	if err := sec.Sarama(cfg); err != nil {
		return nil, err
	}
	g, err := sarama.NewConsumerGroup(brokers, group, cfg)
	if err != nil {
		return nil, fmt.Errorf("could not create consumer group %q on %v: %w", group, brokers, err)
	}
	return g, nil
}

// NewClient connects a Sarama client to brokers.
func NewClient(brokers []string, sec Security, clientID string) (sarama.Client, error) {
	cfg := clientConfig(clientID)
	if err := sec.Sarama(cfg); err != nil {
		return nil, err
	}
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		return nil, fmt.Errorf("could not reach Kafka at %v: %w", brokers, withCause(err, brokers, cfg))
	}
	return client, nil
}

// withCause adds to Sarama's "run out of available brokers" why the first broker refused: Sarama
// only logs it, and a TLS or SASL failure (a wrong password, an unknown CA) would go unexplained.
func withCause(err error, brokers []string, cfg *sarama.Config) error {
	if !errors.Is(err, sarama.ErrOutOfBrokers) || len(brokers) == 0 {
		return err
	}
	b := sarama.NewBroker(brokers[0])
	if oerr := b.Open(cfg); oerr != nil {
		return fmt.Errorf("%w (%s: %w)", err, brokers[0], oerr)
	}
	defer func() { _ = b.Close() }()
	if _, cerr := b.Connected(); cerr != nil {
		if errors.Is(cerr, io.EOF) {
			// A broker that refuses a TLS handshake or a SASL login may just hang up.
			return fmt.Errorf("%w (%s closed the connection while connecting: check the TLS and SASL settings, "+
				"--kafka-tls-* and --kafka-sasl-*, and the SASL password)", err, brokers[0])
		}
		return fmt.Errorf("%w (%s: %w)", err, brokers[0], cerr)
	}
	return err
}

// Message reads a record as the publishers here write it (the message UUID and the metadata in
// headers) back into a Watermill message.
func Message(r *sarama.ConsumerMessage) (*message.Message, error) {
	return marshaler.Unmarshal(r)
}

// NewProducer returns a franz-go client for producing in batches: idempotent (a batch retried
// after a lost answer lands once and in order), acknowledged by every in-sync replica, keys
// assigned to partitions as the Java client does (murmur2), topics created on first use as the
// brokers allow, and records retried until the broker takes them or the produce's context ends
// (nothing is dropped because Kafka was down); connections as sec says. opts come after these
// and may override them.
func NewProducer(brokers []string, sec Security, clientID string, opts ...kgo.Opt) (*kgo.Client, error) {
	secOpts, err := sec.Franz()
	if err != nil {
		return nil, err
	}
	base := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ClientID(clientID),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.AllowAutoTopicCreation(),
		kgo.ProducerLinger(0),
		kgo.RetryBackoffFn(func(tries int) time.Duration {
			return min(100*time.Millisecond<<min(tries, 6), 2*time.Second)
		}),
	}
	cl, err := kgo.NewClient(slices.Concat(base, secOpts, opts)...)
	if err != nil {
		return nil, fmt.Errorf("could not create a Kafka producer for %v: %w", brokers, err)
	}
	return cl, nil
}

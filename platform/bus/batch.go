package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
)

// BatchConsumer consumes a topic in a consumer group and hands each partition's messages to Handle
// in batches, in order: whatever has arrived, up to MaxBatch. A batch's offsets are marked only
// after Handle returned nil for it; when Handle fails, the same batch is handed again after a
// backoff, so nothing is skipped and nothing overtakes. Handle must make redelivery harmless (the
// projection's inbox does), since a batch can come again after a crash or a rebalance.
type BatchConsumer struct {
	Brokers []string
	Group   string
	Topic   string
	// MaxBatch is the most messages in one batch. Default 100.
	MaxBatch int
	// Handle applies a batch. Required.
	Handle func(ctx context.Context, msgs []*message.Message) error
	Logger *slog.Logger
	// Metrics, when set, count batches and their sizes.
	Metrics *BatchMetrics
}

// BatchMetrics are a BatchConsumer's Prometheus metrics, labelled by consumer group.
type BatchMetrics struct {
	batches  *prometheus.CounterVec
	messages *prometheus.HistogramVec
}

// NewBatchMetrics registers the metrics with reg.
func NewBatchMetrics(reg prometheus.Registerer) *BatchMetrics {
	m := &BatchMetrics{
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "omni_consumer_batches_total",
			Help: "Batches handed to a batch consumer's handler, by outcome."}, []string{"consumer_group", "success"}),
		messages: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "omni_consumer_batch_messages",
			Help:    "Messages per batch applied.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200}}, []string{"consumer_group"}),
	}
	reg.MustRegister(m.batches, m.messages)
	return m
}

// Run consumes until ctx ends.
func (c *BatchConsumer) Run(ctx context.Context) error {
	if c.MaxBatch <= 0 {
		c.MaxBatch = 100
	}
	cfg := clientConfig("omnibase-infra")
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Group.Rebalance.Timeout = 10 * time.Second
	group, err := sarama.NewConsumerGroup(c.Brokers, c.Group, cfg)
	if err != nil {
		return fmt.Errorf("could not join consumer group %q on %v: %w", c.Group, c.Brokers, err)
	}
	defer group.Close()
	for {
		// Consume returns at every rebalance and when ctx ends; a failed session is tried again.
		err := group.Consume(ctx, []string{c.Topic}, c)
		if err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) {
			c.Logger.WarnContext(ctx, "consumer group session ended", "group", c.Group, "error", err)
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

func (c *BatchConsumer) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (c *BatchConsumer) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim hands one partition's messages to Handle, batch after batch.
func (c *BatchConsumer) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	ctx := sess.Context()
	for {
		var first *sarama.ConsumerMessage
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			first = m
		}
		records := []*sarama.ConsumerMessage{first}
	drain:
		for len(records) < c.MaxBatch {
			select {
			case m, ok := <-claim.Messages():
				if !ok {
					break drain
				}
				records = append(records, m)
			default:
				break drain
			}
		}
		msgs := make([]*message.Message, 0, len(records))
		for _, r := range records {
			msg, err := marshaler.Unmarshal(r)
			if err != nil {
				// Not even a Watermill message: an empty one carrying the record, which Handle's
				// decoding refuses and sends to the poison topic.
				msg = message.NewMessage("", r.Value)
			}
			msg.SetContext(ctx)
			msgs = append(msgs, msg)
		}
		if !c.handle(ctx, msgs, claim.Partition()) {
			return nil
		}
		sess.MarkMessage(records[len(records)-1], "")
	}
}

// handle calls Handle until it succeeds or ctx ends, with backoff; it reports whether it succeeded.
func (c *BatchConsumer) handle(ctx context.Context, msgs []*message.Message, partition int32) bool {
	wait := 100 * time.Millisecond
	for {
		err := c.Handle(ctx, msgs)
		if c.Metrics != nil {
			c.Metrics.batches.WithLabelValues(c.Group, strconv.FormatBool(err == nil)).Inc()
		}
		if err == nil {
			if c.Metrics != nil {
				c.Metrics.messages.WithLabelValues(c.Group).Observe(float64(len(msgs)))
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		c.Logger.WarnContext(ctx, "could not apply a batch; trying again", "group", c.Group, "partition", partition,
			"messages", len(msgs), "retry_in", wait, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		wait = min(wait*2, 5*time.Second)
	}
}

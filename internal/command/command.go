// Package command sends adapter commands and waits for what they caused: what `omni cmd` does,
// and what the integration suite uses to drive the adapters as an operator would.
package command

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/bus"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/platform/telemetry"
)

// Send writes cmd for its adapter's command topic into the outbox of the control database db, in
// a transaction of its own, and returns the command's id. It publishes as the sagas do: the
// command is in the event log once the transaction commits, and the relay delivers it to Kafka
// (so nothing reaches the adapter without a relay running).
//
// The command is also an entry of the audit log, in the same transaction: actor (who sent it),
// "command.sent", the adapter id, its kind and id — not its payload.
//
// s seals and signs the command (nil: plain, which adapters holding keys poison).
func Send(ctx context.Context, db pgtx.Beginner, s outbox.Sealer, topics events.Topics, cmd events.Command, origin events.Origin, actor string) (string, error) {
	return SendAs(ctx, db, topics, cmd, origin, Sender{Actor: actor, Sealer: s})
}

// Sender is who sends a command, for its audit entry; the key its secret values are recorded
// under there (nil: withheld); and the sealer that seals and signs it (nil: plain).
type Sender struct {
	Actor  string
	Hasher *audit.Hasher
	Sealer outbox.Sealer
}

// SendAs is Send by sender.
//
// The send is a span of its own (the root of the command's trace when ctx carries none), so the
// command's handling, its outcome and everything they cause are one trace.
func SendAs(ctx context.Context, db pgtx.Beginner, topics events.Topics, cmd events.Command, origin events.Origin, sender Sender) (_ string, err error) {
	msg, err := events.Encode(cmd, origin, time.Now())
	if err != nil {
		return "", err
	}
	adapter, target := cmd.Addressee()
	ctx, span := telemetry.Tracer().Start(ctx, "omni cmd "+cmd.Kind().Name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("omni.command.id", msg.UUID), attribute.String("omni.command", cmd.Kind().String()),
			attribute.String("omni.adapter", adapter), attribute.String("omni.target", target),
			attribute.String("omni.correlation_id", origin.CorrelationID)))
	defer func() {
		telemetry.End(span, err)
		span.End()
	}()
	topic := topics.Commands(adapter)
	// Sealed before the transaction, and the audit entry appended last: the append holds the
	// log's lock until the commit, and a seal may read the keys on another connection.
	if sender.Sealer != nil {
		if err := sender.Sealer.Seal(ctx, topic, msg); err != nil {
			return "", fmt.Errorf("could not seal %s %s for %s: %w", cmd.Kind(), msg.UUID, topic, err)
		}
	}
	err = pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		if err := outbox.Publish(ctx, tx, topic, msg); err != nil {
			return err
		}
		return audit.RecordCommandSent(ctx, tx, sender.Hasher, sender.Actor, msg.UUID, cmd, map[string]string{"correlation_id": origin.CorrelationID})
	})
	if err != nil {
		return "", fmt.Errorf("could not send %s %s to %s: %w", cmd.Kind(), msg.UUID, topic, err)
	}
	return msg.UUID, nil
}

// Caused is one event a command caused.
type Caused struct {
	Envelope events.Envelope
	Event    events.Message
}

// Final reports whether c is a command's outcome, after which it causes nothing more.
func (c Caused) Final() bool {
	switch c.Event.(type) {
	case events.CommandSucceeded, events.CommandFailed, events.CommandRejected:
		return true
	}
	return false
}

// Watcher reads the events topic from the position it had when the Watcher was made, so events
// caused by a command sent after that cannot be missed.
type Watcher struct {
	client   sarama.Client
	consumer sarama.Consumer
	topic    string
	start    map[int32]int64
	registry *events.Registry
}

// Watch marks the events topic's current end, connecting to brokers as sec says.
// registry decodes (and, holding keys, authenticates and opens) what it reads.
func Watch(brokers []string, sec bus.Security, topic string, registry *events.Registry) (*Watcher, error) {
	client, err := bus.NewClient(brokers, sec, "omni-cmd")
	if err != nil {
		return nil, err
	}
	w := &Watcher{client: client, topic: topic, start: map[int32]int64{}, registry: registry}
	partitions, err := client.Partitions(topic)
	if err != nil && !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		client.Close()
		return nil, fmt.Errorf("could not list the partitions of %s: %w", topic, err)
	}
	for _, p := range partitions {
		off, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			client.Close()
			return nil, fmt.Errorf("could not read the end of %s/%d: %w", topic, p, err)
		}
		w.start[p] = off
	}
	if w.consumer, err = sarama.NewConsumerFromClient(client); err != nil {
		client.Close()
		return nil, fmt.Errorf("could not create a consumer: %w", err)
	}
	return w, nil
}

// Close releases the Watcher's connections.
func (w *Watcher) Close() error {
	err := w.consumer.Close()
	return errors.Join(err, w.client.Close())
}

// Await returns the events commandID caused, in the order they were published per partition,
// up to and including its outcome. It gives up when ctx ends, returning what it saw so far.
func (w *Watcher) Await(ctx context.Context, commandID string) ([]Caused, error) {
	if err := w.client.RefreshMetadata(w.topic); err != nil {
		return nil, fmt.Errorf("could not refresh metadata of %s: %w", w.topic, err)
	}
	partitions, err := w.client.Partitions(w.topic)
	if err != nil {
		return nil, fmt.Errorf("could not list the partitions of %s: %w", w.topic, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var readers sync.WaitGroup
	defer readers.Wait()
	defer cancel()
	records := make(chan *sarama.ConsumerMessage)
	for _, p := range partitions {
		start, ok := w.start[p]
		if !ok {
			start = sarama.OffsetOldest // a partition that did not exist when watching began
		}
		pc, err := w.consumer.ConsumePartition(w.topic, p, start)
		if err != nil {
			return nil, fmt.Errorf("could not consume %s/%d: %w", w.topic, p, err)
		}
		readers.Go(func() {
			defer pc.Close()
			for {
				select {
				case <-ctx.Done():
					return
				case r := <-pc.Messages():
					select {
					case records <- r:
					case <-ctx.Done():
						return
					}
				}
			}
		})
	}
	var out []Caused
	for {
		select {
		case <-ctx.Done():
			return out, fmt.Errorf("no outcome of command %s yet: %w", commandID, ctx.Err())
		case r := <-records:
			msg, err := bus.Message(r)
			if err != nil || msg.Metadata.Get(events.MetaCausationID) != commandID {
				continue
			}
			env, m, err := w.registry.DecodeFrom(r.Topic, msg)
			if err != nil {
				return out, fmt.Errorf("could not decode an event of command %s: %w", commandID, err)
			}
			c := Caused{Envelope: env, Event: m}
			out = append(out, c)
			if c.Final() {
				return out, nil
			}
		}
	}
}

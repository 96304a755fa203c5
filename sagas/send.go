package sagas

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/delay"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/outbox"
)

// send publishes what decision d sends, inside tx: its commands to their adapters' command topics
// and its events to the events topic through the outbox, its timers as delayed messages in the
// timers queue. Everything carries the saga's correlation id and is caused by the message handled.
func (e *Engine) send(ctx context.Context, tx pgx.Tx, d Decision[json.RawMessage], causationID string) error {
	origin := events.Origin{CorrelationID: d.Saga.Progress.CorrelationID, CausationID: causationID}
	now := e.cfg.Now()
	// One publish per command topic, in the order the commands were decided: a step that probes
	// every target writes them in a few statements, not a few for each.
	var topics []string
	byTopic := map[string][]*message.Message{}
	for _, c := range d.Commands {
		msg, err := events.EncodeWithID(c.ID, c.Command, origin, now)
		if err != nil {
			return err
		}
		adapter, _ := c.Command.Addressee()
		topic := e.cfg.Topics.Commands(adapter)
		if _, seen := byTopic[topic]; !seen {
			topics = append(topics, topic)
		}
		byTopic[topic] = append(byTopic[topic], msg)
	}
	for _, topic := range topics {
		if err := outbox.Publish(ctx, tx, topic, byTopic[topic]...); err != nil {
			return err
		}
	}
	if len(d.Events) > 0 {
		msgs := make([]*message.Message, 0, len(d.Events))
		for i, ev := range d.Events {
			// Derived from the saga and its version: storing the decision again could not publish twice.
			id := derivedID(d.Saga.ID, strconv.FormatInt(d.Saga.Version, 10), strconv.Itoa(i), ev.Kind().String())
			msg, err := events.EncodeWithID(id, ev, origin, now)
			if err != nil {
				return err
			}
			msgs = append(msgs, msg)
		}
		if err := outbox.Publish(ctx, tx, e.cfg.Topics.Events, msgs...); err != nil {
			return err
		}
	}
	return e.setTimers(ctx, tx, d.Timers)
}

func (e *Engine) setTimers(ctx context.Context, tx pgx.Tx, timers []Timer) error {
	if len(timers) == 0 {
		return nil
	}
	pub, err := wsql.NewDelayedPostgreSQLPublisher(wsql.TxFromPgx(tx), wsql.DelayedPostgreSQLPublisherConfig{
		// The queue's table exists (TimersSubscriber creates it); a transaction cannot create it.
		OverridePublisherConfig: func(c *wsql.PublisherConfig) error { c.AutoInitializeSchema = false; return nil },
		Logger:                  watermill.NopLogger{},
	})
	if err != nil {
		return fmt.Errorf("could not create the timers publisher: %w", err)
	}
	for _, t := range timers {
		payload, err := json.Marshal(t)
		if err != nil {
			return fmt.Errorf("could not encode timer of saga %s: %w", t.SagaID, err)
		}
		msg := message.NewMessage(derivedID(t.SagaID, strconv.Itoa(t.Token), string(t.Kind)), payload)
		msg.SetContext(ctx)
		delay.Message(msg, delay.Until(t.At))
		if err := pub.Publish(e.cfg.TimersTopic, msg); err != nil {
			return fmt.Errorf("could not set the %s timer of saga %s: %w", t.Kind, t.SagaID, err)
		}
	}
	return nil
}

// TimersSubscriber is the subscriber of the timers queue: a message is delivered once its time
// has come, and deleted when handled. It creates the queue's table.
func (e *Engine) TimersSubscriber(db wsql.Beginner, logger watermill.LoggerAdapter) (message.Subscriber, error) {
	sub, err := wsql.NewDelayedPostgreSQLSubscriber(db, wsql.DelayedPostgreSQLSubscriberConfig{
		DeleteOnAck: true, Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("could not create the timers subscriber: %w", err)
	}
	if init, ok := sub.(message.SubscribeInitializer); ok {
		if err := init.SubscribeInitialize(e.cfg.TimersTopic); err != nil {
			return nil, fmt.Errorf("could not create the timers queue %s: %w", e.cfg.TimersTopic, err)
		}
	}
	return sub, nil
}

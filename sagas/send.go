package sagas

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/outbox"
)

// send publishes what decision d sends, inside tx: its commands to their adapters' command topics
// and its events to the events topic through the outbox, its timers into saga_timers. Everything
// carries the saga's correlation id and is caused by the message handled.
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
		if err := outbox.PublishSealed(ctx, tx, e.cfg.Sealer, topic, byTopic[topic]...); err != nil {
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
		if err := outbox.PublishSealed(ctx, tx, e.cfg.Sealer, e.cfg.Topics.Events, msgs...); err != nil {
			return err
		}
	}
	return setTimers(ctx, tx, d.Saga, d.Timers)
}

// Package outbox is the only way anything in omnibase-infra is published. Publish writes messages
// into the outbox table inside the caller's pgx transaction, so they commit or roll back with the
// caller's own writes; the Relay moves committed rows to Kafka.
package outbox

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/forwarder"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
)

// ForwarderTopic is the watermill-sql topic the outbox rows live in: table watermill_outbox,
// created by migrations/00001_outbox.sql.
// WARNING: renaming it needs a migration that renames both watermill_*outbox tables.
const ForwarderTopic = "outbox"

// Sealer seals a message's sensitive fields and sets its MAC before it is written
// (platform/seal's Sealer is one).
type Sealer interface {
	Seal(ctx context.Context, topic string, msg *message.Message) error
}

// Publish writes msgs for topic into the outbox and appends them to the event log, inside tx,
// neither sealed nor signed.
// WARNING: consumers that hold keys (every `omni run` process) poison what Publish writes as
// unauthenticated; it is for tests of parts that run without keys. Components publish with
// PublishSealed and the Sealer they were given.
func Publish(ctx context.Context, tx pgx.Tx, topic string, msgs ...*message.Message) error {
	return PublishSealed(ctx, tx, nil, topic, msgs...)
}

// PublishSealed writes msgs for topic into the outbox and appends them to the event log, inside
// tx, each first sealed and signed by s (nil: as they are). Nothing reaches Kafka or the log
// unless tx commits; the relay then delivers them in commit order, so messages of one key keep
// their order. The outbox, the log and Kafka hold the sealed messages only.
//
// Each message is written in a producer span, child of the trace context the message carries
// already (telemetry.CopyContext) or else of ctx's, and that span's context is written into its
// metadata (traceparent, tracestate: outside the MAC), so the trace goes on through the relay,
// Kafka, every consumer, the event log and poison records.
func PublishSealed(ctx context.Context, tx pgx.Tx, s Sealer, topic string, msgs ...*message.Message) (err error) {
	if len(msgs) == 0 {
		return nil
	}
	if s != nil {
		for _, m := range msgs {
			if err := s.Seal(ctx, topic, m); err != nil {
				return fmt.Errorf("could not write %d message(s) for %s to the outbox: %w", len(msgs), topic, err)
			}
		}
	}
	pub, err := wsql.NewPublisher(wsql.TxFromPgx(tx), wsql.PublisherConfig{
		SchemaAdapter: wsql.DefaultPostgreSQLSchema{},
	}, watermill.NopLogger{})
	if err != nil {
		return fmt.Errorf("could not create outbox publisher: %w", err)
	}
	spans := startPublish(ctx, topic, msgs)
	defer func() { endPublish(spans, err) }()
	for _, m := range msgs {
		// The SQL publisher runs its INSERT on the first message's context.
		m.SetContext(ctx)
	}
	fwd := forwarder.NewPublisher(pub, forwarder.PublisherConfig{ForwarderTopic: ForwarderTopic})
	if err := fwd.Publish(topic, msgs...); err != nil {
		return fmt.Errorf("could not write %d message(s) for %s to the outbox: %w", len(msgs), topic, err)
	}
	return appendToLog(ctx, tx, topic, msgs)
}

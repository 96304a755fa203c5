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

// Publish writes msgs for topic into the outbox and appends them to the event log, inside tx.
// Nothing reaches Kafka or the log unless tx commits; the relay then delivers them in commit
// order, so messages of one key keep their order.
func Publish(ctx context.Context, tx pgx.Tx, topic string, msgs ...*message.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	pub, err := wsql.NewPublisher(wsql.TxFromPgx(tx), wsql.PublisherConfig{
		SchemaAdapter: wsql.DefaultPostgreSQLSchema{},
	}, watermill.NopLogger{})
	if err != nil {
		return fmt.Errorf("could not create outbox publisher: %w", err)
	}
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

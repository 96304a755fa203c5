package console

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/omninode/omnibase-infra/internal/fleet"
	"github.com/omninode/omnibase-infra/internal/poison"
)

// OutboxLag is what the relay has not delivered yet, and where it is.
type OutboxLag struct {
	Group         string  `json:"group"`
	PendingRows   int64   `json:"pending_rows"`
	OldestSeconds float64 `json:"oldest_pending_seconds"`
	// Position is the relay's (transaction id, offset) in watermill-sql's order.
	Position string `json:"position,omitempty"`
}

// GroupLag is how far one consumer group is behind on one topic.
type GroupLag = fleet.GroupLag

// Lag is the lag page and /status's lag.
type Lag struct {
	Outbox OutboxLag  `json:"outbox"`
	Groups []GroupLag `json:"consumer_groups"`
	// KafkaError says why the groups' lag could not be read (the brokers away), else "".
	KafkaError string `json:"kafka_error,omitempty"`
}

// ReadLag reads the outbox's lag for the relay group, and each consumer group's lag from the
// brokers when kafka is not nil (kadm: committed offsets against the partitions' ends).
func ReadLag(ctx context.Context, db poison.Querier, kafka *kgo.Client, relayGroup string) (Lag, error) {
	l := Lag{Outbox: OutboxLag{Group: relayGroup}, Groups: []GroupLag{}}
	var tx, off *int64
	err := db.QueryRow(ctx, `
		SELECT count(*), coalesce(extract(epoch FROM localtimestamp - min(o.created_at)), 0)::float8,
			(SELECT last_processed_transaction_id::text::bigint FROM watermill_offsets_outbox WHERE consumer_group = $1),
			(SELECT offset_acked FROM watermill_offsets_outbox WHERE consumer_group = $1)
		FROM watermill_outbox o
		LEFT JOIN watermill_offsets_outbox f ON f.consumer_group = $1
		WHERE o.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
		  AND (f.consumer_group IS NULL
		       OR o.transaction_id > f.last_processed_transaction_id
		       OR (o.transaction_id = f.last_processed_transaction_id AND o."offset" > f.offset_acked))`,
		relayGroup).Scan(&l.Outbox.PendingRows, &l.Outbox.OldestSeconds, &tx, &off)
	if err != nil {
		return l, fmt.Errorf("could not read the outbox's lag: %w", err)
	}
	if tx != nil && off != nil {
		l.Outbox.Position = fmt.Sprintf("transaction %d, offset %d", *tx, *off)
	}
	if kafka == nil {
		return l, nil
	}
	kctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	groups, err := fleet.GroupLags(kctx, kafka)
	if err != nil {
		l.KafkaError = err.Error()
		return l, nil
	}
	l.Groups = groups
	return l, nil
}

// Status is the fleet's state as /status serves it.
type Status struct {
	At          time.Time `json:"at"`
	Targets     []Target  `json:"targets"`
	OpenSagas   int64     `json:"open_sagas"`
	PoisonCount int64     `json:"poison_count"`
	Lag         Lag       `json:"lag"`
}

// ReadStatus reads the fleet, how many sagas are running, how many messages wait in poison and
// the lag.
func ReadStatus(ctx context.Context, db poison.Querier, kafka *kgo.Client, relayGroup string) (Status, error) {
	s := Status{At: time.Now().UTC()}
	var err error
	if s.Targets, err = Fleet(ctx, db); err != nil {
		return s, err
	}
	if err := db.QueryRow(ctx, `SELECT count(*) FROM saga_instances WHERE status = 'running'`).Scan(&s.OpenSagas); err != nil {
		return s, fmt.Errorf("could not count the open sagas: %w", err)
	}
	if s.PoisonCount, err = poison.Count(ctx, db, poison.Filter{Status: poison.StatusPoisoned}); err != nil {
		return s, err
	}
	if s.Lag, err = ReadLag(ctx, db, kafka, relayGroup); err != nil {
		return s, err
	}
	return s, nil
}

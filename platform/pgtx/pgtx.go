// Package pgtx runs a function in one PostgreSQL transaction: commit when it returns nil,
// rollback otherwise. Every writer in omnibase-infra goes through it, so state changes, inbox rows
// and outbox rows always commit together.
package pgtx

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Beginner starts transactions; *pgxpool.Pool and *pgx.Conn are Beginners.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Run calls fn inside a transaction. A rollback runs on a context that is not cancelled, so a
// cancelled caller still releases its locks; its error is joined with fn's.
func Run(ctx context.Context, db Beginner, fn func(tx pgx.Tx) error) (err error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("could not begin transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			panic(p)
		}
		if err != nil {
			if rbErr := tx.Rollback(context.WithoutCancel(ctx)); rbErr != nil {
				err = errors.Join(err, fmt.Errorf("could not roll back: %w", rbErr))
			}
			return
		}
		if cErr := tx.Commit(ctx); cErr != nil {
			err = fmt.Errorf("could not commit: %w", cErr)
		}
	}()
	return fn(tx)
}

// Claim records that consumer handled messageID, inside tx. It reports false when the message
// was handled before: the caller must then do nothing, which makes redelivery a no-op.
func Claim(ctx context.Context, tx pgx.Tx, consumer, messageID string) (bool, error) {
	tag, err := tx.Exec(ctx,
		`INSERT INTO processed_messages (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
		consumer, messageID)
	if err != nil {
		return false, fmt.Errorf("could not record message %s as processed by %s: %w", messageID, consumer, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Querier runs queries: *pgxpool.Pool, *pgx.Conn and pgx.Tx are Queriers.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Executor sends batches: *pgxpool.Pool, *pgx.Conn and pgx.Tx are Executors.
type Executor interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

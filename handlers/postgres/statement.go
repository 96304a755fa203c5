package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

func execute(ctx context.Context, db pgtx.Querier, st events.Statement) (events.PostgresExecResult, error) {
	args, err := convertArgs(st.Args)
	if err != nil {
		return events.PostgresExecResult{}, err
	}
	tag, err := run(ctx, db, st.SQL, args)
	if err != nil {
		return events.PostgresExecResult{}, err
	}
	return events.PostgresExecResult{RowsAffected: tag.RowsAffected(), CommandTag: tag.String()}, nil
}

// run runs one statement and discards any rows it returns.
//
// WARNING: it goes through Query, not Exec: pgx sends an Exec without arguments over the simple
// protocol, which runs every statement of a "a; b" string. Query keeps to the extended protocol,
// where the server takes exactly one statement.
func run(ctx context.Context, db pgtx.Querier, sql string, args []any) (pgconn.CommandTag, error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	rows.Close()
	return rows.CommandTag(), rows.Err()
}

// query runs one statement and collects its rows within the caps.
func query(ctx context.Context, db pgtx.Querier, st events.Statement, maxRows int64, maxBytes int) (*events.PostgresQueryResult, error) {
	args, err := convertArgs(st.Args)
	if err != nil {
		return nil, err
	}
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rows, err := db.Query(qctx, st.SQL, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	fields := rows.FieldDescriptions()
	names, oids := make([]string, len(fields)), make([]uint32, len(fields))
	for i, f := range fields {
		names[i], oids[i] = f.Name, f.DataTypeOID
	}
	c, err := newCollector(names, oids, maxRows, maxBytes)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		values, err := rows.Values()
		if err != nil {
			return nil, fmt.Errorf("could not decode row %d: %w", c.result.RowCount+1, err)
		}
		if err := c.add(values, rows.RawValues()); err != nil {
			// WARNING: cancel before Close: Close reads every row left, and the cancel stops the
			// statement on the server instead.
			cancel()
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return &c.result, nil
}

// transaction runs statements in order in one transaction; the first that fails rolls back all.
func transaction(ctx context.Context, db pgtx.Beginner, statements []events.Statement) (events.PostgresTransactionResult, error) {
	args := make([][]any, len(statements))
	for i, st := range statements {
		var err error
		if args[i], err = convertArgs(st.Args); err != nil {
			return events.PostgresTransactionResult{}, fmt.Errorf("statements[%d]: %w", i, err)
		}
	}
	result := events.PostgresTransactionResult{RowsAffected: make([]int64, 0, len(statements))}
	err := pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		for i, st := range statements {
			tag, err := run(ctx, tx, st.SQL, args[i])
			if err != nil {
				return fmt.Errorf("statements[%d] (%d of %d) failed, so the transaction is rolled back: %w",
					i, i+1, len(statements), err)
			}
			result.RowsAffected = append(result.RowsAffected, tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return events.PostgresTransactionResult{}, err
	}
	return result, nil
}

// Package migrations holds the SQL schema of omnibase-infra, embedded in the binary and applied with
// goose by `omni migrate` and at the start of `omni run` and `omni dev`.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

//go:embed *.sql
var files embed.FS

// Migrator applies the embedded migrations to one database.
type Migrator struct {
	db       *sql.DB
	provider *goose.Provider
}

// New opens databaseURL for migrating, with opts (stdlib.OptionBeforeConnect gives the
// connections credentials from a source). Close it when done.
func New(databaseURL string, opts ...stdlib.OptionOpenDB) (*Migrator, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("invalid database url: %w", err)
	}
	db := stdlib.OpenDB(*cfg, opts...)
	provider, err := goose.NewProvider(goose.DialectPostgres, db, files)
	if err != nil {
		return nil, fmt.Errorf("could not load migrations: %w", err)
	}
	return &Migrator{db: db, provider: provider}, nil
}

// Up applies every pending migration.
func (m *Migrator) Up(ctx context.Context) ([]*goose.MigrationResult, error) {
	res, err := m.provider.Up(ctx)
	if err != nil {
		return res, fmt.Errorf("could not migrate up: %w", err)
	}
	return res, nil
}

// Down rolls back the newest applied migration.
func (m *Migrator) Down(ctx context.Context) (*goose.MigrationResult, error) {
	res, err := m.provider.Down(ctx)
	if err != nil {
		return res, fmt.Errorf("could not migrate down: %w", err)
	}
	return res, nil
}

// DownTo rolls back every migration newer than version (0 rolls back all).
func (m *Migrator) DownTo(ctx context.Context, version int64) ([]*goose.MigrationResult, error) {
	res, err := m.provider.DownTo(ctx, version)
	if err != nil {
		return res, fmt.Errorf("could not migrate down to %d: %w", version, err)
	}
	return res, nil
}

// Status lists every migration and whether it is applied.
func (m *Migrator) Status(ctx context.Context) ([]*goose.MigrationStatus, error) {
	st, err := m.provider.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("could not read migration status: %w", err)
	}
	return st, nil
}

// Close closes the database handle.
func (m *Migrator) Close() error { return m.db.Close() }

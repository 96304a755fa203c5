// Package bench measures omnibase-infra against raw baselines on the same servers, in the same
// run — the outbox, its relay, the projection and replay — and the whole loop: end-to-end latency
// and one process's resident memory under load. Run with `make bench`; it prints every figure and
// writes them to bench-results.json at the module root. Nothing here asserts a time.
package bench_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/nodes/readiness"
	"github.com/omninode/omnibase-infra/tests/containers"
	"github.com/omninode/omnibase-infra/tests/images"
)

var (
	pg    *containers.Postgres
	kafka *containers.Kafka
)

// Sizes, as flags so that a change can be tried on small ones first
// (`go test -run '^$' -bench Relay -benchtime 1x ./tests/bench/ -args -relay-events 2000`).
var (
	relayEvents    = flag.Int("relay-events", 50000, "outbox rows each relay and baseline delivers per round")
	largeDelivered = flag.Int("large-outbox", 1000000, "delivered rows ahead of the relay's position in the large outbox")
	loadFor        = flag.Duration("load-duration", 30*time.Second, "how long the end-to-end and memory benchmarks hold their load")
)

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		// `make test` compiles this package but runs no benchmark: start no servers for nothing.
		os.Exit(m.Run())
	}
	os.Exit(runBenchmarks(m))
}

// runBenchmarks starts the servers every benchmark shares, runs them, and writes what they measured
// to bench-results.json, even when one failed (its file says passed: false).
func runBenchmarks(m *testing.M) int {
	ranAt := time.Now()
	root, err := images.ModuleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "could not find the module root:", err)
		return 1
	}
	commit := readiness.CommitOf(root)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	defer func() {
		var errs []error
		if pg != nil {
			errs = append(errs, pg.Terminate(context.Background()))
		}
		if kafka != nil {
			errs = append(errs, kafka.Terminate(context.Background()))
		}
		if err := errors.Join(errs...); err != nil {
			fmt.Fprintln(os.Stderr, "could not terminate the servers:", err)
		}
	}()
	if pg, err = containers.StartPostgres(ctx); err == nil {
		err = trackCommitTimestamps(ctx, pg)
	}
	if err == nil {
		kafka, err = containers.StartKafka(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "could not start the servers:", err)
		return 1
	}
	code := m.Run()
	path := filepath.Join(root, ResultsFile)
	if err := results.Write(path, commit, ranAt, code == 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("figures written to", path)
	return code
}

// trackCommitTimestamps turns on track_commit_timestamp, which only a restart applies: the
// end-to-end benchmark reads when each transaction committed from PostgreSQL itself
// (pg_xact_commit_timestamp), rather than from a client's clock after the commit returned. It is
// on for the whole run, so every figure pays its small cost alike.
func trackCommitTimestamps(ctx context.Context, pg *containers.Postgres) error {
	db, err := pgxpool.New(ctx, pg.URL)
	if err != nil {
		return fmt.Errorf("could not connect to PostgreSQL: %w", err)
	}
	_, err = db.Exec(ctx, `ALTER SYSTEM SET track_commit_timestamp = on`)
	db.Close()
	if err != nil {
		return fmt.Errorf("could not turn on track_commit_timestamp: %w", err)
	}
	if err := pg.Stop(ctx); err != nil {
		return err
	}
	return pg.Start(ctx)
}

var quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

// freshDB is a migrated database of the benchmark's own, with the raw baselines' tables beside the
// product's.
func freshDB(b *testing.B) *pgxpool.Pool {
	return connect(b, migratedDB(b))
}

func migratedDB(b *testing.B) string {
	url := pg.NewDatabase(b)
	require.NoError(b, app.Migrate(context.Background(), url, quiet))
	db := connect(b, url)
	_, err := db.Exec(context.Background(), `CREATE TABLE effects (id TEXT PRIMARY KEY, at TIMESTAMPTZ NOT NULL DEFAULT now());
		CREATE TABLE raw_outbox (LIKE watermill_outbox INCLUDING ALL);
		CREATE TABLE raw_event_log (LIKE event_log INCLUDING ALL)`)
	require.NoError(b, err)
	db.Close()
	return url
}

func connect(b *testing.B, url string) *pgxpool.Pool {
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(b, err)
	cfg.MaxConns = 32
	db, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(b, err)
	b.Cleanup(db.Close)
	return db
}

// event is the i-th health report of 16 targets, as an adapter encodes it.
func event(b *testing.B, i int) *message.Message {
	msg, err := events.Encode(events.AdapterHealthReported{
		AdapterID: fmt.Sprintf("postgres/t%d", i%16), Adapter: events.AdapterPostgres, Target: fmt.Sprintf("t%d", i%16),
		Healthy: true, LatencyMicros: int64(i), ProbedAt: time.Now(),
	}, events.NewOrigin(), time.Now())
	require.NoError(b, err)
	return msg
}

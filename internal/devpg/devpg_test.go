package devpg_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/internal/devpg"
)

var logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

func TestStart_serves_a_database_and_close_removes_it(t *testing.T) {
	ctx := context.Background()
	// Not t.TempDir(): its parent is private to root, and the server runs as another user.
	dir, err := os.MkdirTemp("", "devpg-test-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	srv, err := devpg.Start(ctx, devpg.Config{}, logger)
	require.NoError(t, err)
	other, err := devpg.Start(ctx, devpg.Config{DataDir: dir, Database: "second"}, logger)
	require.NoError(t, err, "two clusters side by side")

	conn, err := pgx.Connect(ctx, srv.URL())
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `CREATE TABLE t (v int); INSERT INTO t VALUES (42)`)
	require.NoError(t, err)
	var v int
	require.NoError(t, conn.QueryRow(ctx, `SELECT v FROM t`).Scan(&v))
	require.Equal(t, 42, v)
	require.NoError(t, conn.Close(ctx))

	require.NoError(t, srv.Close())
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err = pgx.Connect(cctx, srv.URL())
	require.Error(t, err, "the server is gone after Close")

	conn, err = pgx.Connect(ctx, other.URL())
	require.NoError(t, err, "closing one cluster leaves the other running")
	require.NoError(t, conn.Close(ctx))
	require.NoError(t, other.Close())
	_, err = os.Stat(dir)
	require.NoError(t, err, "a data directory the caller gave is not removed")
}

func TestStart_names_a_missing_binary_directory(t *testing.T) {
	_, err := devpg.Start(context.Background(), devpg.Config{BinDir: "/nonexistent/pg/bin"}, logger)
	require.ErrorContains(t, err, `initdb not found in "/nonexistent/pg/bin"`)
	require.ErrorContains(t, err, "apt-get install postgresql-15")
}

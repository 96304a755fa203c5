package containers

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/omninode/omnibase-infra/tests/images"
)

// Postgres is a PostgreSQL 15 server in a container.
type Postgres struct {
	*Server
	// Port it listens on at 127.0.0.1; it keeps it across Stop and Start.
	Port int
	// URL of its postgres database, as the postgres superuser.
	URL string
}

// StartPostgres starts a PostgreSQL server and waits until it takes connections. It does not
// sync to disk (fsync and synchronous_commit off): fast, and a crash of the container loses data.
func StartPostgres(ctx context.Context) (*Postgres, error) { return startPostgres(ctx) }

// StartDurablePostgres starts a PostgreSQL server that syncs every commit to disk, as a server
// for data that matters does: for measuring what durability costs.
func StartDurablePostgres(ctx context.Context) (*Postgres, error) {
	return startPostgres(ctx, "-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "full_page_writes=on")
}

func startPostgres(ctx context.Context, args ...string) (*Postgres, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s, err := start(ctx, images.Postgres,
		testcontainers.WithCmd(args...),
		testcontainers.WithEnv(map[string]string{"PGPORT": strconv.Itoa(port)}),
		// SIGINT is PostgreSQL's fast shutdown: a stop does not wait for clients to disconnect.
		testcontainers.WithConfigModifier(func(c *container.Config) { c.StopSignal = "SIGINT" }),
		// Docker's default /dev/shm is 64 MB: a parallel hash over a large outbox (the relay's
		// benchmarks) runs out of it ("could not resize shared memory segment"). 512 MB is what a
		// PostgreSQL host of this size would have.
		testcontainers.WithHostConfigModifier(func(h *container.HostConfig) { h.ShmSize = 512 << 20 }),
		testcontainers.WithWaitStrategy(wait.ForLog("database system is ready to accept connections").
			WithStartupTimeout(90*time.Second)),
	)
	if err != nil {
		return nil, err
	}
	p := &Postgres{Server: s, Port: port, URL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)}
	return p, p.waitReady(ctx)
}

// StartPostgresStandby starts a hot standby of primary in a container of the same image: a copy
// of primary taken with pg_basebackup -R (primary's default pg_hba.conf trusts replication from
// 127.0.0.1), streaming primary's WAL from then on. It waits until the standby takes read-only
// connections. Its URL is of its postgres database.
func StartPostgresStandby(ctx context.Context, primary *Postgres) (*Postgres, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	// The same settings as the image's entrypoint; a standby needs max_connections at least the
	// primary's.
	script := fmt.Sprintf(`set -e
PGDATA=/var/lib/postgresql/data
pg_basebackup -h 127.0.0.1 -p %d -U postgres -D "$PGDATA" -R -X stream --checkpoint=fast
exec postgres -D "$PGDATA" -p %d -c listen_addresses='*' -c unix_socket_directories=/tmp \
	-c max_connections=500 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`, primary.Port, port)
	s, err := start(ctx, images.Postgres,
		testcontainers.WithEntrypoint("/bin/sh", "-c", script),
		testcontainers.WithConfigModifier(func(c *container.Config) { c.StopSignal = "SIGINT" }),
		// Docker's default /dev/shm is 64 MB: a parallel hash over a large outbox (the relay's
		// benchmarks) runs out of it ("could not resize shared memory segment"). 512 MB is what a
		// PostgreSQL host of this size would have.
		testcontainers.WithHostConfigModifier(func(h *container.HostConfig) { h.ShmSize = 512 << 20 }),
		testcontainers.WithWaitStrategy(wait.ForLog("database system is ready to accept read-only connections").
			WithStartupTimeout(90*time.Second)),
	)
	if err != nil {
		return nil, fmt.Errorf("could not start a standby of PostgreSQL on port %d: %w", primary.Port, err)
	}
	p := &Postgres{Server: s, Port: port, URL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)}
	return p, p.waitReady(ctx)
}

// Start starts the stopped server again, on the same port, and waits until it takes connections.
func (p *Postgres) Start(ctx context.Context) error {
	if err := p.ctr.Start(ctx); err != nil {
		return fmt.Errorf("could not start PostgreSQL again: %w", err)
	}
	return p.waitReady(ctx)
}

func (p *Postgres) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return poll(ctx, "PostgreSQL on port "+strconv.Itoa(p.Port)+" taking connections", func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, p.URL)
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	})
}

// NewDatabase creates a database of the test's own on the server and returns its URL; it is
// dropped when the test ends.
func (p *Postgres) NewDatabase(t testing.TB) string {
	t.Helper()
	name := "t_" + strings.ToLower(watermill.NewShortUUID())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("could not create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("could not drop database %s: %v", name, err)
		}
	})
	return strings.Replace(p.URL, "/postgres?", "/"+name+"?", 1)
}

func (p *Postgres) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, p.URL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// RequirePasswords makes the server check passwords over TCP for every role but postgres (which
// the suite and Vault's database engine connect as): the image trusts every local connection,
// under which any password, and a user past its VALID UNTIL, would log in.
func (p *Postgres) RequirePasswords(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, p.URL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var hba string
	if err := conn.QueryRow(ctx, "SHOW hba_file").Scan(&hba); err != nil {
		return fmt.Errorf("could not find pg_hba.conf: %w", err)
	}
	rules := `local all all trust
host all postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256`
	// COPY writes one line per row: the rules as rows of a one-column table.
	if _, err := conn.Exec(ctx, "COPY (SELECT unnest(string_to_array($$"+rules+"$$, E'\\n'))) TO '"+hba+"'"); err != nil {
		return fmt.Errorf("could not write pg_hba.conf: %w", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return fmt.Errorf("could not reload the configuration: %w", err)
	}
	return nil
}

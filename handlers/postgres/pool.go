package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omninode/omnibase-infra/platform/credentials"
)

// applicationName is what the adapter's sessions show in pg_stat_activity, unless the URL sets
// application_name.
const applicationName = "omnibase-infra"

// poolConfig is the pool configuration of target t: its URL with the credentials, TLS and pool
// settings of the configuration. Its errors name the target and the field.
func (c Config) poolConfig(t Target) (*pgxpool.Config, error) {
	fail := func(field string, err error) error {
		return fmt.Errorf("postgres target %q: %s: %w", t.Name, field, err)
	}
	if t.URL == "" {
		return nil, fail("URL", errors.New("empty"))
	}
	// pgx redacts the password from its parse errors.
	pc, err := pgxpool.ParseConfig(t.URL)
	if err != nil {
		return nil, fail("URL", err)
	}
	cc := pc.ConnConfig
	if t.PasswordEnv != "" {
		password, ok := c.LookupEnv(t.PasswordEnv)
		switch {
		case !ok:
			return nil, fail("PasswordEnv", fmt.Errorf("environment variable %s is not set", t.PasswordEnv))
		case password == "":
			return nil, fail("PasswordEnv", fmt.Errorf("environment variable %s is empty", t.PasswordEnv))
		}
		cc.Password = password
	}
	if t.Credentials != "" {
		ref, err := credentials.ParseRef(t.Credentials)
		if err != nil {
			return nil, fail("Credentials", err)
		}
		if c.Credentials == nil {
			return nil, fail("Credentials", errors.New("no credential source is configured"))
		}
		pc.BeforeConnect = credentials.BeforeConnect(c.Credentials, ref)
	}
	if err := ApplyTLS(cc, t.URL, c.TLSPolicy, "postgres/"+t.Name, t.TLS); err != nil {
		return nil, fmt.Errorf("postgres target %q: %w", t.Name, err)
	}
	if _, set := cc.RuntimeParams["application_name"]; !set {
		cc.RuntimeParams["application_name"] = applicationName
	}
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = c.ConnectTimeout
	}
	// Every statement is described by the server before it runs, with no statement cache: the
	// parameter types come from the server (a JSON argument meets its jsonb parameter), only
	// one statement is accepted per SQL string, and a plan cached before a DDL change can
	// never fail a later command.
	cc.DefaultQueryExecMode = pgx.QueryExecModeDescribeExec
	// A statement past the command timeout, or a query past its caps, is stopped with a cancel
	// request and its connection kept: pgx's default gives up the connection instead (sending a
	// cancel request as it closes it), so every timeout would cost a new connection. A server
	// that has not answered the cancel within CancelGrace loses the connection all the same.
	grace := c.CancelGrace
	cc.BuildContextWatcherHandler = func(conn *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: conn, DeadlineDelay: grace}
	}
	pc.MaxConns, pc.MinConns = c.MaxConns, c.MinConns
	pc.MaxConnLifetime, pc.MaxConnIdleTime = c.MaxConnLifetime, c.MaxConnIdleTime
	return pc, nil
}

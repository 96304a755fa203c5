// Package postgres is the PostgreSQL adapter's driver: it executes parameterised statements,
// queries and transactions against its target databases and probes them (reachability, round
// trip, pool saturation, replica lag). handlers/effect runs it (breaker, retries, records, probe
// schedule).
package postgres

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/omninode/omnibase-infra/handlers/effect"
	"github.com/omninode/omnibase-infra/platform/credentials"
	"github.com/omninode/omnibase-infra/platform/tlspolicy"
)

// Target is one database the adapter acts on.
type Target struct {
	// Name identifies the target in events ("postgres/<Name>"). Required; no "/" in it.
	Name string
	// URL of the database: a postgres:// URL or a "key=value ..." connection string, with
	// everything pgx reads from one (sslmode, sslrootcert, sslcert, sslkey, connect_timeout,
	// target_session_attrs, several hosts, …). Required. It may leave out the user and the
	// password: they then come from PasswordEnv, or from libpq's environment (PGUSER,
	// PGPASSWORD, PGPASSFILE) as pgx reads it.
	URL string
	// PasswordEnv names the environment variable that holds the password. Optional; when given,
	// the variable must be set and not empty, and its value wins over any other password.
	PasswordEnv string
	// Credentials is a credentials reference (env:NAME, file:PATH, vault-kv:MOUNT/PATH[#FIELD],
	// vault-db:MOUNT/creds/ROLE) read through Config.Credentials for every new connection: its
	// user name, when it has one, and its password win over the URL's and PasswordEnv. When the
	// credentials change (a rotated lease, a rewritten file) the pool's connections are replaced
	// as they become idle; a connection refused for its password reads them anew. Optional.
	Credentials string
	// TLS, when given, makes every connection use TLS with these files and verify the server,
	// whatever the URL's sslmode says. Optional.
	TLS *TLS
}

// TLS is a target's explicit TLS configuration.
type TLS struct {
	// CAFile is a PEM file of the certificates that sign the server's. Default: the system's.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for certificate
	// authentication. Optional: both or neither.
	CertFile string
	KeyFile  string
	// ServerName is the name the server's certificate must carry. Default: the host connected to.
	ServerName string
}

// Config configures a Driver. The pool settings apply to every target and win over pool_*
// parameters of the URLs.
type Config struct {
	// TLSPolicy makes every TLS connection to a target (see ApplyTLS). Default
	// tlspolicy.Default(): intermediate, the system's roots.
	TLSPolicy *tlspolicy.Policy
	// Targets. Required, at least one.
	Targets []Target
	// ConnectTimeout of one connection attempt, for targets whose URL sets no connect_timeout.
	// Default 2s.
	ConnectTimeout time.Duration
	// MaxConns of each target's pool. Default 4.
	MaxConns int32
	// MinConns each target's pool keeps open. Default 0.
	MinConns int32
	// MaxConnLifetime after which a connection is closed once idle. Default 1h.
	MaxConnLifetime time.Duration
	// MaxConnIdleTime after which an idle connection is closed. Default 30m.
	MaxConnIdleTime time.Duration
	// MaxRows is the default and the ceiling of a query's max_rows. Default 1000.
	MaxRows int64
	// MaxResultBytes caps a query's result, as JSON. Default 256 KiB.
	MaxResultBytes int
	// CancelGrace is how long a cancelled statement (command timeout) has to stop on the server
	// after the cancel request before its connection is dropped. Default 2s.
	CancelGrace time.Duration
	// LookupEnv reads the environment (PasswordEnv). Default os.LookupEnv.
	LookupEnv func(key string) (string, bool)
	// Credentials is the source of the targets' Credentials references. Required when a target
	// has one.
	Credentials credentials.Source
}

func (c *Config) setDefaults() {
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 2 * time.Second
	}
	if c.MaxConns == 0 {
		c.MaxConns = 4
	}
	if c.MaxConnLifetime == 0 {
		c.MaxConnLifetime = time.Hour
	}
	if c.MaxConnIdleTime == 0 {
		c.MaxConnIdleTime = 30 * time.Minute
	}
	if c.MaxRows == 0 {
		c.MaxRows = 1000
	}
	if c.MaxResultBytes == 0 {
		c.MaxResultBytes = 256 << 10
	}
	if c.CancelGrace == 0 {
		c.CancelGrace = 2 * time.Second
	}
	if c.LookupEnv == nil {
		c.LookupEnv = os.LookupEnv
	}
}

// Validate reports every problem of the configuration, each naming its target and field. It
// reads the environment and the TLS files, as connecting would.
func (c Config) Validate() error {
	var errs []error
	names := make([]string, len(c.Targets))
	for i, t := range c.Targets {
		names[i] = t.Name
	}
	errs = append(errs, effect.CheckTargetNames("postgres", names)...)
	for _, t := range c.Targets {
		if _, err := c.poolConfig(t); err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range []struct {
		field string
		value time.Duration
	}{
		{"ConnectTimeout", c.ConnectTimeout}, {"MaxConnLifetime", c.MaxConnLifetime},
		{"MaxConnIdleTime", c.MaxConnIdleTime}, {"CancelGrace", c.CancelGrace},
	} {
		if d.value < 0 {
			errs = append(errs, fmt.Errorf("postgres adapter: %s is negative", d.field))
		}
	}
	if c.MaxConns < 0 || c.MinConns < 0 {
		errs = append(errs, errors.New("postgres adapter: MaxConns and MinConns must not be negative"))
	} else if c.MaxConns > 0 && c.MinConns > c.MaxConns {
		errs = append(errs, fmt.Errorf("postgres adapter: MinConns %d is more than MaxConns %d", c.MinConns, c.MaxConns))
	}
	if c.MaxRows < 0 {
		errs = append(errs, errors.New("postgres adapter: MaxRows is negative"))
	}
	if c.MaxResultBytes < 0 {
		errs = append(errs, errors.New("postgres adapter: MaxResultBytes is negative"))
	}
	return errors.Join(errs...)
}

// passwordEnvParam and credentialsParam are the query parameters of a target URL that ParseTarget
// moves to PasswordEnv and Credentials.
const (
	passwordEnvParam = "password_env"
	credentialsParam = "credentials"
)

// ParseTarget reads a target given as NAME=URL, as on the command line. A postgres:// URL may
// name the environment variable of its password with the parameter password_env, or a
// credentials reference with the parameter credentials (neither is a PostgreSQL parameter: they
// are taken out of the URL), e.g.
// orders=postgres://app@db:5432/orders?sslmode=verify-full&password_env=ORDERS_PASSWORD or
// orders=postgres://db:5432/orders?credentials=vault-db:database/creds/orders.
func ParseTarget(s string) (Target, error) {
	name, dsn, ok := strings.Cut(s, "=")
	// WARNING: the argument is not echoed in errors: it may hold a password.
	if !ok || name == "" || dsn == "" || strings.ContainsAny(name, "/:@?") {
		return Target{}, errors.New(`postgres target: want NAME=URL, the name first (without "/", ":", "@" or "?")`)
	}
	t := Target{Name: name, URL: dsn}
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return t, nil
	}
	base, query, ok := strings.Cut(dsn, "?")
	if !ok {
		return t, nil
	}
	// Only the query is touched: net/url cannot parse the several hosts pgx accepts.
	params, err := url.ParseQuery(query)
	if err != nil {
		return Target{}, fmt.Errorf("postgres target %q: URL: invalid query: %w", name, err)
	}
	if !params.Has(passwordEnvParam) && !params.Has(credentialsParam) {
		return t, nil
	}
	t.PasswordEnv, t.Credentials = params.Get(passwordEnvParam), params.Get(credentialsParam)
	params.Del(passwordEnvParam)
	params.Del(credentialsParam)
	t.URL = base
	if len(params) > 0 {
		t.URL += "?" + params.Encode()
	}
	return t, nil
}

// DefaultConfig is the configuration with every default filled in (and no targets): the flags
// of omni show these.
func DefaultConfig() Config {
	var c Config
	c.setDefaults()
	return c
}

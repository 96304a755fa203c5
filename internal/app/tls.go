package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/consul"
	"github.com/omninode/omnibase-infra/handlers/postgres"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/platform/tlspolicy"
)

// refusalBacklog is how many refused handshakes may wait to be recorded as security events;
// beyond it they are dropped, so a flood of bad handshakes cannot queue database writes.
const refusalBacklog = 64

// recordRefusals records every refused handshake of the policy as a security event (an audit
// entry, an event on infra.security, omni_security_events_total) until ctx ends.
func (n *node) recordRefusals(ctx context.Context) error {
	if n.cfg.tlsRefusals == nil {
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-n.cfg.tlsRefusals:
			ev := events.SecurityEventRecorded{Type: events.SecurityTLSRefused, Actor: r.Peer, Subject: r.Endpoint,
				Reason: r.Side + " side: " + r.Reason, At: time.Now()}
			if err := pgtx.Run(ctx, n.db, func(tx pgx.Tx) error { return n.security.Record(ctx, tx, ev) }); err != nil {
				n.logger.WarnContext(ctx, "could not record a refused TLS handshake as a security event", "endpoint", r.Endpoint, "error", err)
			}
		}
	}
}

// TLSFlags name the fields of Config.TLS as omni's flags do, for the policy's errors.
var TLSFlags = map[string]string{
	"Profile": "--tls-profile", "MinVersion": "--tls-min-version", "MaxVersion": "--tls-max-version",
	"CipherSuites": "--tls-cipher-suites", "CAFile": "--tls-ca", "CertFile": "--tls-cert", "KeyFile": "--tls-key",
	"Server.CertFile": "--http-tls-cert", "Server.KeyFile": "--http-tls-key", "Server.ClientCAFile": "--http-client-ca",
	"Server.ClientAuth": "--http-client-auth", "ReloadInterval": "--tls-reload-interval", "ExpiryWarning": "--tls-expiry-warning",
}

// OpenTLS builds the process's TLS policy from cfg.TLS (unless cfg.TLSPolicy is given) and puts
// every connection of cfg under it: the control bus ("control-bus") and every Kafka target
// ("kafka/NAME"), the PostgreSQL targets ("postgres/NAME"), the Consul targets ("consul/NAME")
// and the audit witness, Vault ("vault"), and the HTTP server ("http"). The control database
// ("control-db") is put under it by ControlDBConnect. With TLS.Require, a connection configured
// without TLS is refused, naming it.
func OpenTLS(cfg *Config, logger *slog.Logger) (*tlspolicy.Policy, error) {
	p := cfg.TLSPolicy
	if p == nil {
		tc := cfg.TLS
		if tc.Flags == nil {
			tc.Flags = TLSFlags
		}
		if tc.OnRefusal == nil {
			refusals := make(chan tlspolicy.Refusal, refusalBacklog)
			cfg.tlsRefusals = refusals
			tc.OnRefusal = func(r tlspolicy.Refusal) {
				select {
				case refusals <- r:
				default: // a flood: counted and logged by the policy, not queued as writes
				}
			}
		}
		var err error
		if p, err = tlspolicy.New(tc, logger); err != nil {
			return nil, Mark(err, ErrInvalidConfig)
		}
	}
	cfg.TLSPolicy = p
	var errs []error
	plaintext := func(what string) {
		if p.Require() {
			errs = append(errs, fmt.Errorf("%s is plaintext, but the TLS policy requires TLS (--tls-require)", what))
		}
	}
	cfg.KafkaSecurity.TLS.Policy, cfg.KafkaSecurity.TLS.Endpoint = p, "control-bus"
	if !cfg.KafkaSecurity.TLS.On() {
		plaintext("the control bus (--kafka-brokers; turn TLS on with --kafka-tls)")
	}
	for i := range cfg.Kafka.Targets {
		t := &cfg.Kafka.Targets[i]
		t.Security.TLS.Policy, t.Security.TLS.Endpoint = p, "kafka/"+t.Name
		if !t.Security.TLS.On() {
			plaintext(fmt.Sprintf("kafka target %q (add tls=true)", t.Name))
		}
	}
	cfg.Postgres.TLSPolicy, cfg.Consul.TLSPolicy = p, p
	if c, err := vaultClient(cfg.Vault.Addr, p); err != nil {
		errs = append(errs, err)
	} else if cfg.Vault.HTTPClient == nil {
		cfg.Vault.HTTPClient = c
	}
	if cfg.Seal.Vault.HTTPClient == nil {
		cfg.Seal.Vault.HTTPClient = cfg.Vault.HTTPClient
	}
	if !p.ServerOn() {
		plaintext("the HTTP server (--http-addr; give --http-tls-cert and --http-tls-key)")
	}
	if err := errors.Join(errs...); err != nil {
		return nil, Mark(err, ErrInvalidConfig)
	}
	return p, nil
}

// vaultClient is Vault's HTTP client under the policy when Vault is reached over HTTPS (addr, or
// VAULT_ADDR), nil otherwise.
func vaultClient(addr string, p *tlspolicy.Policy) (*http.Client, error) {
	addr = vaultAddr(addr)
	if addr == "" {
		return nil, nil
	}
	u, err := url.Parse(addr)
	if err != nil || u.Scheme != "https" {
		if p.Require() && err == nil {
			return nil, fmt.Errorf("the Vault server at %s is plaintext, but the TLS policy requires TLS (--tls-require)", addr)
		}
		return nil, nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = p.ClientConfig("vault", u.Hostname())
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}, nil
}

// vaultAddr is Vault's address as its client reads it: addr, else VAULT_ADDR.
func vaultAddr(addr string) string {
	if addr == "" {
		return os.Getenv("VAULT_ADDR")
	}
	return addr
}

// ControlDBConnect puts every connection to the control database (the process's pool and the
// migrations) under the policy as "control-db", then gives it its credentials with connect (when
// not nil). Its error is a configuration the policy refuses.
func ControlDBConnect(databaseURL string, p *tlspolicy.Policy, connect func(context.Context, *pgx.ConnConfig) error) (func(context.Context, *pgx.ConnConfig) error, error) {
	cc, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, Mark(fmt.Errorf("DATABASE_URL (--database-url) is invalid: %w", err), ErrInvalidConfig)
	}
	if err := postgres.ApplyTLS(cc, databaseURL, p, "control-db", nil); err != nil {
		return nil, Mark(fmt.Errorf("DATABASE_URL (--database-url): %w", err), ErrInvalidConfig)
	}
	return func(ctx context.Context, cc *pgx.ConnConfig) error {
		if err := postgres.ApplyTLS(cc, databaseURL, p, "control-db", nil); err != nil {
			return err
		}
		if connect != nil {
			return connect(ctx, cc)
		}
		return nil
	}, nil
}

// consulWitness is the audit witness on the Consul agent at addr, reached under the policy.
func consulWitness(addr string, p *tlspolicy.Policy) (*audit.ConsulWitness, error) {
	ac, err := consul.ClientConfig(consul.Target{Name: "audit-witness", Addr: addr}, p)
	if err != nil {
		return nil, fmt.Errorf("--audit-consul-witness: %w", err)
	}
	return audit.NewConsulWitnessFrom(ac, "")
}

// Listen listens on addr for a server of the process (endpoint "http", "console"): over TLS with
// the policy's server certificate and client authentication when the policy has one. flag names
// addr in the error. The operations console takes its listener from here too, so every server
// of the process is held to one policy.
func Listen(addr, flag, endpoint string, p *tlspolicy.Policy) (net.Listener, string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", Mark(fmt.Errorf("could not listen on %s %s: %w", flag, addr, err), ErrInvalidConfig)
	}
	if p == nil || !p.ServerOn() {
		return ln, "http://" + ln.Addr().String(), nil
	}
	return tls.NewListener(ln, p.ServerConfig(endpoint)), "https://" + ln.Addr().String(), nil
}

// tlsSummary is the policy in a log line's attributes.
func tlsSummary(p *tlspolicy.Policy) []any {
	c := p.Config()
	return []any{"tls_profile", c.Profile, "tls_policy", p.Describe(), "tls_require", c.Require,
		"http_client_auth", strings.TrimSpace(c.Server.ClientAuth)}
}

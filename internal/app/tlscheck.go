package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/handlers/consul"
	"github.com/omninode/omnibase-infra/handlers/postgres"
	"github.com/omninode/omnibase-infra/platform/tlspolicy"
)

// TLSCheck is what one endpoint negotiated under the policy (omni tls check).
type TLSCheck struct {
	Endpoint string `json:"endpoint"`
	Addr     string `json:"addr"`
	// TLS is false for an endpoint configured in plaintext: it does not meet the policy.
	TLS         bool             `json:"tls"`
	Version     string           `json:"version,omitempty"`
	CipherSuite string           `json:"cipher_suite,omitempty"`
	Chain       []TLSCertificate `json:"chain,omitempty"`
	MeetsPolicy bool             `json:"meets_policy"`
	// Problem says why it does not meet the policy.
	Problem string `json:"problem,omitempty"`
}

// TLSCertificate is one certificate of a peer's chain.
type TLSCertificate struct {
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	NotAfter time.Time `json:"not_after"`
}

// tlsTarget is an endpoint to check: its address, its client configuration (nil: plaintext) and
// whether it speaks PostgreSQL's SSLRequest first.
type tlsTarget struct {
	endpoint, addr string
	config         *tls.Config
	postgres       bool
}

// CheckTLS dials every endpoint cfg configures — the control database, the brokers, the
// PostgreSQL, Kafka and Consul targets, the audit witness, Vault and the process's own HTTP
// server — and reports what each negotiated under the policy of cfg.TLS.
func CheckTLS(ctx context.Context, cfg Config, logger *slog.Logger) (*tlspolicy.Policy, []TLSCheck, error) {
	cfg.setDefaults()
	tc := cfg.TLS
	tc.Flags, tc.Require = TLSFlags, false // the check reports plaintext rather than refusing it
	p, err := tlspolicy.New(tc, logger)
	if err != nil {
		return nil, nil, Mark(err, ErrInvalidConfig)
	}
	targets, err := tlsTargets(cfg, p)
	if err != nil {
		return nil, nil, Mark(err, ErrInvalidConfig)
	}
	out := make([]TLSCheck, 0, len(targets))
	for _, t := range targets {
		out = append(out, checkOne(ctx, p, t))
	}
	return p, out, nil
}

func tlsTargets(cfg Config, p *tlspolicy.Policy) ([]tlsTarget, error) {
	var out []tlsTarget
	var errs []error
	pg := func(endpoint, rawURL string, explicit *postgres.TLS) {
		cc, err := pgx.ParseConfig(rawURL)
		if err == nil {
			err = postgres.ApplyTLS(cc, rawURL, p, endpoint, explicit)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", endpoint, err))
			return
		}
		out = append(out, tlsTarget{endpoint: endpoint, addr: net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))), config: cc.TLSConfig, postgres: true})
	}
	if cfg.DatabaseURL != "" {
		pg("control-db", cfg.DatabaseURL, nil)
	}
	for _, t := range cfg.Postgres.Targets {
		pg("postgres/"+t.Name, t.URL, t.TLS)
	}
	kafka := func(endpoint string, brokers []string, on bool, f tlspolicy.Files, serverName string) {
		for _, b := range brokers {
			t := tlsTarget{endpoint: endpoint, addr: b}
			if on {
				name := serverName
				if name == "" {
					name, _, _ = net.SplitHostPort(b)
				}
				c, err := p.ClientConfigWith(endpoint, name, f)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", endpoint, err))
					continue
				}
				t.config = c
			}
			out = append(out, t)
		}
	}
	bt := cfg.KafkaSecurity.TLS
	kafka("control-bus", cfg.KafkaBrokers, bt.On(), tlspolicy.Files{CAFile: bt.CAFile, CertFile: bt.CertFile, KeyFile: bt.KeyFile}, bt.ServerName)
	for _, t := range cfg.Kafka.Targets {
		tt := t.Security.TLS
		kafka("kafka/"+t.Name, t.Brokers, tt.On(), tlspolicy.Files{CAFile: tt.CAFile, CertFile: tt.CertFile, KeyFile: tt.KeyFile}, tt.ServerName)
	}
	cons := func(endpoint string, t consul.Target) {
		ac, err := consul.ClientConfig(t, p)
		if err != nil {
			errs = append(errs, err)
			return
		}
		u := urlAddr(ac.Scheme, ac.Address, "8500")
		tt := tlsTarget{endpoint: endpoint, addr: u}
		if ac.Scheme == "https" {
			tt.config = ac.Transport.TLSClientConfig
		}
		out = append(out, tt)
	}
	for _, t := range cfg.Consul.Targets {
		cons("consul/"+t.Name, t)
	}
	if cfg.Audit.ConsulWitness != "" {
		cons("audit-witness", consul.Target{Name: "audit-witness", Addr: cfg.Audit.ConsulWitness})
	}
	if c, err := vaultClient(cfg.Vault.Addr, p); err != nil {
		errs = append(errs, err)
	} else if c != nil {
		u, _ := url.Parse(vaultAddr(cfg.Vault.Addr))
		out = append(out, tlsTarget{endpoint: "vault", addr: urlAddr(u.Scheme, u.Host, "8200"),
			config: p.ClientConfig("vault", u.Hostname())})
	}
	if cfg.HTTPAddr != "" {
		t := tlsTarget{endpoint: "http", addr: cfg.HTTPAddr}
		if p.ServerOn() {
			host, _, _ := net.SplitHostPort(cfg.HTTPAddr)
			t.config = p.ClientConfig("http", host)
		}
		out = append(out, t)
	}
	return out, errors.Join(errs...)
}

// urlAddr is HOST:PORT of an address that may be a URL, with the scheme's default port.
func urlAddr(scheme, addr, port string) string {
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		addr = u.Host
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		if scheme == "https" && port == "" {
			port = "443"
		}
		return net.JoinHostPort(addr, port)
	}
	return addr
}

func checkOne(ctx context.Context, p *tlspolicy.Policy, t tlsTarget) TLSCheck {
	c := TLSCheck{Endpoint: t.endpoint, Addr: t.addr, TLS: t.config != nil}
	if t.config == nil {
		c.Problem = "configured without TLS"
		return c
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cs, err := handshake(ctx, t)
	if err != nil {
		c.Problem = err.Error()
		return c
	}
	c.Version, c.CipherSuite = tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite)
	for _, cert := range cs.PeerCertificates {
		c.Chain = append(c.Chain, TLSCertificate{Subject: cert.Subject.String(), Issuer: cert.Issuer.String(), NotAfter: cert.NotAfter})
	}
	if err := p.Check(cs); err != nil {
		c.Problem = err.Error()
		return c
	}
	c.MeetsPolicy = true
	return c
}

// pgSSLRequest asks a PostgreSQL server to go on in TLS.
var pgSSLRequest = []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}

func handshake(ctx context.Context, t tlsTarget) (tls.ConnectionState, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return tls.ConnectionState{}, fmt.Errorf("could not connect: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if t.postgres {
		if _, err := conn.Write(pgSSLRequest); err != nil {
			return tls.ConnectionState{}, fmt.Errorf("SSLRequest: %w", err)
		}
		b := make([]byte, 1)
		if _, err := io.ReadFull(conn, b); err != nil {
			return tls.ConnectionState{}, fmt.Errorf("SSLRequest: %w", err)
		}
		if b[0] != 'S' {
			return tls.ConnectionState{}, errors.New("the server refuses TLS (ssl is off)")
		}
	}
	tc := tls.Client(conn, t.config)
	if err := tc.HandshakeContext(ctx); err != nil {
		return tls.ConnectionState{}, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc.ConnectionState(), nil
}

// Package console is the operations console: server-rendered pages of the fleet, intents,
// sagas, poison messages and lag, served from the binary (templates and assets embedded, nothing
// fetched at run time), readable without JavaScript and updated live by a small script over
// Server-Sent Events. Reading needs nothing; actions (requeue, discard) need a login — a token
// from Config.TokenFile or a verified client certificate — and each is written to the audit log
// with who did it. An action without a login is refused and recorded as a security event.
package console

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/omninode/omnibase-infra/internal/poison"
	"github.com/omninode/omnibase-infra/outbox"
)

// Config configures the console.
type Config struct {
	// Addr is where the console listens (HOST:PORT). Empty: no console (omni run's default);
	// omni dev serves one on 127.0.0.1:8090.
	Addr string
	// TokenFile holds the login tokens, one a line: "NAME:TOKEN" (NAME is who the audit log says
	// acted) or a bare TOKEN (acting as "operator"). Empty: no token login. Optional.
	TokenFile string
	// TLS, when set, makes the listener TLS; with ClientAuth VerifyClientCertIfGiven (or
	// RequireAndVerifyClientCert) a verified client certificate logs its holder in as its
	// subject's common name. Optional (the process's TLS policy builds it).
	TLS *tls.Config `json:"-"`
	// TraceURL is the link of a trace, {trace_id} replaced by an event's W3C trace id
	// ("http://localhost:16686/trace/{trace_id}"). Empty: no trace links.
	TraceURL string
	// PageSize is how many rows a list page shows. Default 50.
	PageSize int
	// LiveInterval is how often the live updates look for a change. Default 1s.
	LiveInterval time.Duration
	// SessionTTL is how long a login lasts. Default 12h.
	SessionTTL time.Duration
	// RelayGroup is the relay's consumer group, whose outbox lag the lag page shows.
	// Default "outbox-relay".
	RelayGroup string
}

// DefaultConfig is the console's defaults (off: no Addr).
func DefaultConfig() Config {
	c := Config{}
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	if c.PageSize == 0 {
		c.PageSize = 50
	}
	if c.LiveInterval == 0 {
		c.LiveInterval = time.Second
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = 12 * time.Hour
	}
	if c.RelayGroup == "" {
		c.RelayGroup = outbox.DefaultRelayConfig().ConsumerGroup
	}
}

// Validate names every problem of c.
func (c Config) Validate() error {
	var errs []error
	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			errs = append(errs, fmt.Errorf("console address %q is not HOST:PORT", c.Addr))
		}
	}
	if c.PageSize < 0 || c.PageSize > 1000 {
		errs = append(errs, fmt.Errorf("console page size %d: want 1 to 1000", c.PageSize))
	}
	if c.LiveInterval < 0 || c.SessionTTL < 0 {
		errs = append(errs, errors.New("console live interval and session TTL cannot be negative"))
	}
	if c.TraceURL != "" && !strings.Contains(c.TraceURL, "{trace_id}") {
		errs = append(errs, fmt.Errorf("console trace URL %q has no {trace_id}", c.TraceURL))
	}
	return errors.Join(errs...)
}

// Deps are what the console reads from the process, passed by the composition root.
type Deps struct {
	// DB is the control database. Required.
	DB poison.DB
	// Kafka, when set, gives the consumer groups' lag (the brokers' committed offsets).
	Kafka *kgo.Client
	// Sealer signs the security events of refused actions (nil: plain).
	Sealer outbox.Sealer
	// Wrap, when set, wraps the console's handler on its own listener: the process's HTTP rate
	// limits per client address.
	Wrap func(http.Handler) http.Handler
}

// Console is the operations console's HTTP handler and, given an Addr, its server.
type Console struct {
	cfg      Config
	deps     Deps
	pages    *template.Template
	sessions *sessions
	tokens   []token
	logger   *slog.Logger
	mux      *http.ServeMux
}

// New builds the console; it reads the token file once.
func New(cfg Config, deps Deps, logger *slog.Logger) (*Console, error) {
	cfg.setDefaults()
	errs := []error{cfg.Validate()}
	if deps.DB == nil {
		errs = append(errs, errors.New("console: missing DB"))
	}
	var tokens []token
	if cfg.TokenFile != "" {
		var err error
		if tokens, err = readTokens(cfg.TokenFile); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{cfg: cfg, deps: deps, pages: pages, sessions: newSessions(cfg.SessionTTL), tokens: tokens,
		logger: logger.With("component", "console")}
	c.mux = c.routes()
	return c, nil
}

// ServeHTTP serves the console.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.mux.ServeHTTP(w, r) }

// Run serves the console on cfg.Addr until ctx ends. ready, when not nil, gets the address it
// listens on.
func (c *Console) Run(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", c.cfg.Addr)
	if err != nil {
		return fmt.Errorf("could not listen on console address %s: %w", c.cfg.Addr, err)
	}
	if c.cfg.TLS != nil {
		ln = tls.NewListener(ln, c.cfg.TLS)
	}
	var h http.Handler = c
	if c.deps.Wrap != nil {
		h = c.deps.Wrap(h)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("console server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	// The live streams end with ctx (their requests' base context), so Shutdown does not wait on them.
	err = srv.Shutdown(sctx)
	<-errc
	return err
}

package app

import (
	"context"
	"errors"
	"fmt"
	"github.com/omninode/omnibase-infra/internal/console"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/components/metrics"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/consul"
	"github.com/omninode/omnibase-infra/handlers/effect"
	"github.com/omninode/omnibase-infra/handlers/kafka"
	"github.com/omninode/omnibase-infra/handlers/postgres"
	"github.com/omninode/omnibase-infra/migrations"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/bus"
	"github.com/omninode/omnibase-infra/platform/consumer"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/platform/ratelimit"
	"github.com/omninode/omnibase-infra/platform/seal"
	"github.com/omninode/omnibase-infra/platform/telemetry"
	"github.com/omninode/omnibase-infra/projections/infrastate"
	"github.com/omninode/omnibase-infra/sagas"
)

// Run runs cfg.Roles until ctx ends, then shuts down gracefully: the router stops taking messages
// and finishes the ones in flight, the projection finishes its batch in flight. It returns the
// first error that stopped it.
func Run(ctx context.Context, cfg Config, logger *slog.Logger) error {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return Mark(fmt.Errorf("invalid config: %w", err), ErrInvalidConfig)
	}
	tlsPolicy, err := OpenTLS(&cfg, logger)
	if err != nil {
		return err
	}
	creds, err := newCredentials(cfg, logger)
	if err != nil {
		return err
	}
	stopCreds := runCredentials(ctx, creds, logger)
	defer stopCreds()
	if cfg.Postgres.Credentials == nil {
		cfg.Postgres.Credentials = creds
	}
	connect, ref, err := databaseConnect(cfg, creds)
	if err != nil {
		return err
	}
	watchCreds := connect != nil
	if connect, err = ControlDBConnect(cfg.DatabaseURL, tlsPolicy, connect); err != nil {
		return err
	}
	if !cfg.SkipMigrate {
		if err := migrate(ctx, cfg.DatabaseURL, connect, logger); err != nil {
			return err
		}
	}
	db, err := connectPool(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConns, connect)
	if err != nil {
		return err
	}
	defer db.Close()
	if watchCreds {
		// Rotated credentials: the idle connections go now, the busy ones when released.
		defer creds.Watch(ref, db.Reset)()
	}

	sealer, err := OpenSeal(ctx, cfg.Seal, db)
	if err != nil {
		return err
	}
	if sealer == nil {
		logger.WarnContext(ctx, "sealing disabled: messages are neither encrypted nor authenticated (--seal-disabled)")
	} else {
		// The keys are refreshed beside the work, never on a sender's path.
		rctx, stop := context.WithCancel(ctx)
		refreshed := make(chan struct{})
		go func() {
			defer close(refreshed)
			sealer.Keyring().Refresh(rctx, logger)
		}()
		defer func() { stop(); <-refreshed }()
	}
	n, err := newNode(ctx, cfg, db, sealer, logger)
	if err != nil {
		return err
	}
	defer n.close()
	if err := recordStart(ctx, db, cfg); err != nil {
		return err
	}
	return n.run(ctx)
}

// recordStart appends the process's start and its configuration (what it runs, not a secret)
// to the audit log.
func recordStart(ctx context.Context, db *pgxpool.Pool, cfg Config) error {
	roles := make([]string, len(cfg.Roles))
	for i, r := range cfg.Roles {
		roles[i] = string(r)
	}
	targets := len(cfg.Postgres.Targets) + len(cfg.Kafka.Targets) + len(cfg.Consul.Targets)
	e := audit.Entry{Actor: processActor(), Action: "process.started", Subject: strings.Join(roles, ","),
		Outcome: "started", Detail: map[string]string{"roles": strings.Join(roles, ","), "http_addr": cfg.HTTPAddr,
			"instance_id": cfg.Membership.InstanceID, "adapter_member": cfg.Adapters.Member, "targets": strconv.Itoa(targets),
			"audit_checkpoints": strconv.FormatBool(cfg.Audit.KeyFile != "")}}
	return pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		_, err := audit.Append(ctx, tx, e)
		return err
	})
}

// processActor names this process in the audit log: "omni run (host/pid)".
func processActor() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("omni run (%s/%d)", host, os.Getpid())
}

// Connect opens a pool on the control database and checks it answers.
func Connect(ctx context.Context, databaseURL string) (*pgxpool.Pool, error) {
	return ConnectPool(ctx, databaseURL, 0)
}

// ConnectPool is Connect with a pool of maxConns connections (0: pgxpool's default, four on two
// cores) unless the URL sets pool_max_conns.
func ConnectPool(ctx context.Context, databaseURL string, maxConns int32) (*pgxpool.Pool, error) {
	return connectPool(ctx, databaseURL, maxConns, nil)
}

// connectPool is ConnectPool whose connections are given their credentials by connect, when not
// nil.
func connectPool(ctx context.Context, databaseURL string, maxConns int32, connect func(context.Context, *pgx.ConnConfig) error) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, Mark(fmt.Errorf("DATABASE_URL is invalid: %w", err), ErrInvalidConfig)
	}
	if maxConns > 0 && !strings.Contains(databaseURL, "pool_max_conns") {
		cfg.MaxConns = maxConns
	}
	cfg.BeforeConnect = connect
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, Mark(fmt.Errorf("DATABASE_URL is invalid: %w", err), ErrInvalidConfig)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.Ping(pctx); err != nil {
		db.Close()
		return nil, Mark(fmt.Errorf("could not reach DATABASE_URL: %w", err), ErrUnreachable)
	}
	return db, nil
}

// Migrate applies every pending migration.
func Migrate(ctx context.Context, databaseURL string, logger *slog.Logger) error {
	return migrate(ctx, databaseURL, nil, logger)
}

func migrate(ctx context.Context, databaseURL string, connect func(context.Context, *pgx.ConnConfig) error, logger *slog.Logger) error {
	var opts []stdlib.OptionOpenDB
	if connect != nil {
		opts = append(opts, stdlib.OptionBeforeConnect(connect))
	}
	m, err := migrations.New(databaseURL, opts...)
	if err != nil {
		return err
	}
	defer m.Close()
	res, err := m.Up(ctx)
	for _, r := range res {
		logger.DebugContext(ctx, "migration applied", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
	}
	if len(res) > 0 {
		// One line at info however many there were; each is at debug.
		logger.InfoContext(ctx, "migrations applied", "count", len(res), "version", res[len(res)-1].Source.Version)
	}
	return err
}

// node is one process's wiring.
type node struct {
	cfg      Config
	db       *pgxpool.Pool
	router   *message.Router
	registry *prometheus.Registry
	policy   *consumer.Policy
	// security records the security events (poisoned messages, refused TLS handshakes).
	security *audit.SecurityRecorder
	// limits are the process's rate limits: the adapters' commands and the HTTP server.
	limits   *ratelimit.Limiter
	adapters []*effect.Adapter
	relay    *outbox.Relay
	// kafka answers /readyz's question whether the brokers can be reached.
	kafka *kgo.Client
	// retention trims what the loop keeps only for a while; the relay role runs it.
	retention *outbox.Retention
	// checkpoints signs the audit log's checkpoints; the relay role runs it, given a key.
	checkpoints *audit.Checkpointer
	// sealer seals and signs what the process publishes (nil with sealing disabled).
	sealer outbox.Sealer
	// projection consumes the events topic in batches, beside the router: Watermill's handlers
	// take one message at a time.
	projection *consumer.Batch
	// console is the operations console, when Console.Addr is set.
	console *console.Console
	logger  *slog.Logger
}

func newNode(ctx context.Context, cfg Config, db *pgxpool.Pool, sealer *seal.Sealer, logger *slog.Logger) (_ *node, err error) {
	wlog := WatermillLogger(logger)
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 30 * time.Second}, wlog)
	if err != nil {
		return nil, fmt.Errorf("could not create router: %w", err)
	}
	router.AddMiddleware(middleware.Recoverer)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(), cfg.Build.collector(), cfg.TLSPolicy.Collector())
	metrics.NewPrometheusMetricsBuilder(reg, "omni", "").AddPrometheusRouterMetrics(router)

	// No Kafka publisher: everything the process publishes goes through the outbox.
	n := &node{cfg: cfg, db: db, router: router, registry: reg, logger: logger}
	secOpts, err := cfg.KafkaSecurity.Franz()
	if err != nil {
		return nil, err
	}
	if n.kafka, err = kgo.NewClient(append(secOpts, kgo.SeedBrokers(cfg.KafkaBrokers...), kgo.ClientID("omni-readyz"))...); err != nil {
		return nil, fmt.Errorf("could not create a Kafka client for %v: %w", cfg.KafkaBrokers, err)
	}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	if err := n.addFleetMetrics(); err != nil {
		return nil, err
	}
	// seals is nil (plain) only with sealing disabled: a nil *seal.Sealer must not become a
	// non-nil interface.
	var seals outbox.Sealer
	catalog := events.Catalog()
	if sealer != nil {
		seals, catalog = sealer, catalog.WithOpener(sealer)
	}
	n.cfg.Adapters.Sealer = seals
	n.sealer = seals
	// Every message poisoned for a security reason is a security event: an audit entry, an event
	// on infra.security and omni_security_events_total, in the poisoning transaction.
	security, err := audit.NewSecurityRecorder(reg, seals)
	if err != nil {
		return nil, err
	}
	n.security = security
	poison, err := outbox.NewPoisonStore(outbox.PoisonStoreConfig{DB: db, Topics: cfg.Topics, Sealer: seals, OnPoison: security.Poisoned})
	if err != nil {
		return nil, err
	}
	policyCfg := cfg.Policy
	policyCfg.Store = poison
	if n.policy, err = consumer.NewPolicy(policyCfg, logger); err != nil {
		return nil, err
	}
	if n.limits, err = ratelimit.New(cfg.Limits, db, reg, logger.With("component", "ratelimit")); err != nil {
		return nil, Mark(fmt.Errorf("--rate-limit: %w", err), ErrInvalidConfig)
	}
	if cfg.has(RoleAdapters) {
		if err := n.addAdapters(db, catalog); err != nil {
			return nil, err
		}
	}
	if cfg.has(RoleRelay) {
		if err := n.addRelay(db, poison); err != nil {
			return nil, err
		}
		if cfg.Audit.KeyFile != "" {
			signer, err := audit.LoadSigner(cfg.Audit.KeyFile)
			if err != nil {
				return nil, err
			}
			n.checkpoints = &audit.Checkpointer{DB: db, Signer: signer.SealWith(n.sealer), Interval: cfg.Audit.CheckpointInterval,
				Logger: logger.With("role", RoleRelay)}
			if cfg.Audit.ConsulWitness != "" {
				w, err := consulWitness(cfg.Audit.ConsulWitness, cfg.TLSPolicy)
				if err != nil {
					return nil, err
				}
				n.checkpoints.Witnesses = []audit.Witness{w}
			}
		}
	}
	if cfg.has(RoleProjection) {
		if err := n.addProjection(db, catalog); err != nil {
			return nil, err
		}
	}
	if cfg.has(RoleSagas) {
		if err := n.addSagas(db, catalog); err != nil {
			return nil, err
		}
	}
	if cfg.Console.Addr != "" {
		ccfg := cfg.Console
		ccfg.RelayGroup = n.relayGroup()
		if ccfg.TLS == nil && cfg.TLSPolicy.ServerOn() {
			// The console's listener is under the one policy too: its certificate, and a client
			// certificate it verifies logs its holder in.
			ccfg.TLS = cfg.TLSPolicy.ServerConfig("console")
		}
		if n.console, err = console.New(ccfg, console.Deps{DB: db, Kafka: n.kafka, Sealer: seals, Wrap: n.limits.Middleware}, logger); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// addAdapters builds the adapters that have targets and consumes their command topics.
func (n *node) addAdapters(db *pgxpool.Pool, catalog *events.Registry) error {
	logger := n.logger.With("role", RoleAdapters)
	var drivers []effect.Driver
	pg, err := postgres.New(n.cfg.Postgres, logger)
	if err != nil {
		return err
	}
	drivers = append(drivers, pg)
	if len(n.cfg.Kafka.Targets) > 0 {
		k, err := kafka.New(n.cfg.Kafka, logger)
		if err != nil {
			pg.Close()
			return err
		}
		drivers = append(drivers, k)
	}
	if len(n.cfg.Consul.Targets) > 0 {
		ccfg := n.cfg.Consul
		ccfg.Memory = db
		c, err := consul.New(ccfg, logger)
		if err != nil {
			for _, d := range drivers {
				d.Close()
			}
			return err
		}
		drivers = append(drivers, c)
	}
	scaffolded, err := nodeDrivers(n.cfg.Nodes, logger)
	if err != nil {
		for _, d := range drivers {
			d.Close()
		}
		return err
	}
	drivers = append(drivers, scaffolded...)
	outcomes := effect.NewCommandMetrics(n.registry)
	for i, d := range drivers {
		acfg := n.cfg.Adapters
		acfg.Audit = audit.RecordCommandOutcome(processActor())
		acfg.Metrics = outcomes
		acfg.Limits = n.limits
		acfg.SenderOf = func(ctx context.Context, id string) (string, error) { return audit.SenderOf(ctx, db, id) }
		a, err := effect.New(d, acfg, db, catalog, logger)
		if err != nil {
			for _, d := range drivers[i:] {
				d.Close()
			}
			return err
		}
		n.adapters = append(n.adapters, a)
		if err := n.consume(a.ConsumerName(), n.cfg.Topics.Commands(a.Name()), nil, a.HandleCommand); err != nil {
			for _, d := range drivers[i+1:] {
				d.Close()
			}
			return err
		}
	}
	return nil
}

// addRelay delivers the outbox to Kafka.
func (n *node) addRelay(db *pgxpool.Pool, poison *outbox.PoisonStore) error {
	rc := n.cfg.Relay
	rc.DB, rc.Brokers, rc.Security, rc.Poison, rc.Policy = db, n.cfg.KafkaBrokers, n.cfg.KafkaSecurity, poison, n.policy
	rc.Metrics = outbox.NewRelayMetrics(n.registry)
	var err error
	if n.relay, err = outbox.NewRelay(rc, n.logger.With("role", RoleRelay)); err != nil {
		return err
	}
	n.registry.MustRegister(outbox.NewLagCollector(db, n.relay.ConsumerGroup()))
	ret := n.cfg.Retention
	ret.DB, ret.RecordTrim = db, audit.RecordTrim(processActor())
	n.retention, err = outbox.NewRetention(ret, n.logger.With("role", RoleRelay))
	return err
}

// addProjection consumes the events topic in batches into the infrastructure state.
func (n *node) addProjection(db *pgxpool.Pool, catalog *events.Registry) error {
	logger := n.logger.With("role", RoleProjection)
	h, err := infrastate.NewHandler(infrastate.HandlerConfig{
		DB: db, Registry: catalog, IntentsTopic: n.cfg.Topics.Intents, EventsTopic: n.cfg.Topics.Events, Thresholds: n.cfg.Thresholds,
		Sealer: n.sealer,
	}, logger)
	if err != nil {
		return err
	}
	bc := n.cfg.Projection
	bc.Brokers, bc.Security, bc.Group, bc.Topic = n.cfg.KafkaBrokers, n.cfg.KafkaSecurity, infrastate.ConsumerName, n.cfg.Topics.Events
	bc.Handle, bc.Policy, bc.Metrics = h.HandleBatch, n.policy, consumer.NewBatchMetrics(n.registry)
	bc.Membership = n.cfg.Membership
	n.projection, err = consumer.NewBatch(bc, logger)
	return err
}

// addSagas runs the saga engine: intents from Kafka start or join sagas, the adapters' outcome
// events on the events topic are their replies, and their timers come from PostgreSQL.
func (n *node) addSagas(db *pgxpool.Pool, catalog *events.Registry) error {
	contract, err := sagas.LoadContract(n.cfg.ContractPath)
	if err != nil {
		return err
	}
	var hasher *audit.Hasher
	if n.cfg.Audit.HMACKeyFile != "" {
		if hasher, err = audit.LoadHasher(n.cfg.Audit.HMACKeyFile); err != nil {
			return err
		}
	}
	engine, err := sagas.New(sagas.Config{DB: db, Registry: catalog, Targets: infrastate.Targets{}, Contract: contract, Topics: n.cfg.Topics,
		AuditHasher: hasher, Sealer: n.sealer, Metrics: sagas.NewStepMetrics(n.registry)},
		n.logger.With("role", RoleSagas))
	if err != nil {
		return err
	}
	timers, err := sagas.NewTimersSubscriber(sagas.TimersConfig{DB: db}, n.logger.With("role", RoleSagas))
	if err != nil {
		return err
	}
	if err := n.consume(sagas.IntakeConsumerName, n.cfg.Topics.Intents, nil, engine.HandleIntent); err != nil {
		return err
	}
	if err := n.consume(sagas.RepliesConsumerName, n.cfg.Topics.Events, nil, engine.HandleEvent); err != nil {
		return err
	}
	return n.consume(sagas.TimersConsumerName, engine.TimersTopic(), timers, engine.HandleTimer)
}

// consume adds a router handler for group on topic (in its own Kafka consumer group unless sub is
// given), through the one error policy.
func (n *node) consume(group, topic string, sub message.Subscriber, handle message.NoPublishHandlerFunc) error {
	if sub == nil {
		var err error
		if sub, err = bus.NewSubscriber(n.cfg.KafkaBrokers, n.cfg.KafkaSecurity, group, n.cfg.Membership, WatermillLogger(n.logger)); err != nil {
			return err
		}
	}
	h := n.router.AddConsumerHandler(group, topic, sub, handle)
	h.AddMiddleware(telemetry.ConsumerMiddleware(group, topic), n.policy.Middleware(group, topic))
	return nil
}

func (n *node) run(ctx context.Context) error {
	ln, httpURL, err := Listen(n.cfg.HTTPAddr, "--http-addr", "http", n.cfg.TLSPolicy)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: n.limits.Middleware(n.httpHandler()), ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(n.logger.Handler(), slog.LevelWarn)} // refused TLS handshakes, said as the rest
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		// A router without handlers (a projection-only process) does not stop on its own.
		rerr := n.router.Close()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), 5*time.Second)
		defer cancel()
		return errors.Join(rerr, srv.Shutdown(sctx))
	})
	g.Go(func() error {
		if err := n.router.Run(gctx); err != nil {
			return fmt.Errorf("router: %w", err)
		}
		return nil
	})
	g.Go(func() error { return n.cfg.TLSPolicy.Run(gctx) })
	g.Go(func() error { return n.recordRefusals(gctx) })
	if n.retention != nil {
		g.Go(func() error { return n.retention.Run(gctx) })
	}
	if n.checkpoints != nil {
		g.Go(func() error { return n.checkpoints.Run(gctx) })
	}
	if n.projection != nil {
		g.Go(func() error { return n.projection.Run(gctx) })
	}
	if n.relay != nil {
		g.Go(func() error { return n.relay.Run(gctx) })
	}
	if n.console != nil {
		g.Go(func() error {
			scheme := "http://"
			if n.cfg.TLSPolicy.ServerOn() {
				scheme = "https://"
			}
			return n.console.Run(gctx, func(addr string) { n.logger.InfoContext(ctx, "console serving", "url", scheme+addr) })
		})
	}
	for _, a := range n.adapters {
		g.Go(func() error {
			select {
			case <-n.router.Running():
			case <-gctx.Done():
				return nil
			}
			return a.Run(gctx)
		})
	}
	n.logger.InfoContext(ctx, "omni running", append([]any{"roles", n.cfg.Roles, "http", httpURL,
		"kafka", n.cfg.KafkaBrokers}, tlsSummary(n.cfg.TLSPolicy)...)...)
	err = g.Wait()
	if err == nil || errors.Is(err, context.Canceled) {
		// Every role has returned: the router and the projection finished what was in flight.
		n.logger.InfoContext(context.WithoutCancel(ctx), "omni stopped", "roles", n.cfg.Roles)
	}
	return err
}

func (n *node) close() {
	for _, a := range n.adapters {
		a.Close()
	}
	if n.kafka != nil {
		n.kafka.Close()
	}
}

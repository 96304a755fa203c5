package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/metrics"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/consul"
	"github.com/omninode/omnibase-infra/handlers/effect"
	"github.com/omninode/omnibase-infra/handlers/kafka"
	"github.com/omninode/omnibase-infra/handlers/postgres"
	"github.com/omninode/omnibase-infra/migrations"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/bus"
	"github.com/omninode/omnibase-infra/projections/infrastate"
	"github.com/omninode/omnibase-infra/sagas"
)

// Run runs cfg.Roles until ctx ends, then shuts down gracefully: the router stops taking messages
// and finishes the ones in flight. It returns the first error that stopped it.
func Run(ctx context.Context, cfg Config, logger *slog.Logger) error {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid config: %w", err)
	}
	if !cfg.SkipMigrate {
		if err := Migrate(ctx, cfg.DatabaseURL, logger); err != nil {
			return err
		}
	}
	db, err := Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()

	n, err := newNode(ctx, cfg, db, logger)
	if err != nil {
		return err
	}
	defer n.close()
	return n.run(ctx)
}

// Connect opens a pool on the control database and checks it answers.
func Connect(ctx context.Context, databaseURL string) (*pgxpool.Pool, error) {
	db, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL is invalid: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.Ping(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("could not reach DATABASE_URL: %w", err)
	}
	return db, nil
}

// Migrate applies every pending migration.
func Migrate(ctx context.Context, databaseURL string, logger *slog.Logger) error {
	m, err := migrations.New(databaseURL)
	if err != nil {
		return err
	}
	defer m.Close()
	res, err := m.Up(ctx)
	for _, r := range res {
		logger.InfoContext(ctx, "migration applied", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
	}
	return err
}

// node is one process's wiring.
type node struct {
	cfg      Config
	db       *pgxpool.Pool
	router   *message.Router
	registry *prometheus.Registry
	pub      message.Publisher
	adapters []*effect.Adapter
	// projection consumes the events topic in batches (beside the router: Watermill's handlers
	// take one message at a time).
	projection *bus.BatchConsumer
	logger     *slog.Logger
}

func newNode(ctx context.Context, cfg Config, db *pgxpool.Pool, logger *slog.Logger) (_ *node, err error) {
	wlog := watermill.NewSlogLogger(logger)
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 30 * time.Second}, wlog)
	if err != nil {
		return nil, fmt.Errorf("could not create router: %w", err)
	}
	router.AddMiddleware(middleware.Recoverer)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics.NewPrometheusMetricsBuilder(reg, "omni", "").AddPrometheusRouterMetrics(router)

	pub, err := bus.NewPublisher(cfg.KafkaBrokers, wlog)
	if err != nil {
		return nil, err
	}
	n := &node{cfg: cfg, db: db, router: router, registry: reg, pub: pub, logger: logger}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	catalog := events.Catalog()

	if cfg.has(RoleAdapters) {
		if err := n.addAdapters(db, catalog); err != nil {
			return nil, err
		}
	}
	if cfg.has(RoleRelay) {
		const group = "outbox-relay"
		_, err := outbox.NewRelay(outbox.RelayConfig{
			DB: db, Publisher: pub, PoisonTopic: cfg.Topics.Poison(group), Router: router, ConsumerGroup: group,
		}, logger.With("role", RoleRelay))
		if err != nil {
			return nil, err
		}
		reg.MustRegister(outbox.NewLagCollector(db, group))
	}
	if cfg.has(RoleProjection) {
		plog := logger.With("role", RoleProjection)
		poisonTopic := cfg.Topics.Poison(infrastate.ConsumerName)
		h, err := infrastate.NewHandler(infrastate.HandlerConfig{
			DB: db, Registry: catalog, IntentsTopic: cfg.Topics.Intents, Thresholds: cfg.Thresholds,
			Poison: func(msg *message.Message, reason error) error {
				poisoned := msg.Copy()
				if poisoned.UUID == "" {
					poisoned.UUID = watermill.NewUUID()
				}
				poisoned.Metadata.Set(middleware.ReasonForPoisonedKey, reason.Error())
				poisoned.Metadata.Set(middleware.PoisonedTopicKey, cfg.Topics.Events)
				return pub.Publish(poisonTopic, poisoned)
			},
		}, plog)
		if err != nil {
			return nil, err
		}
		n.projection = &bus.BatchConsumer{Brokers: cfg.KafkaBrokers, Group: infrastate.ConsumerName, Topic: cfg.Topics.Events,
			MaxBatch: cfg.ProjectionBatch, Handle: h.HandleBatch, Logger: plog, Metrics: bus.NewBatchMetrics(reg)}
	}
	if cfg.has(RoleSagas) {
		if err := n.addSagas(db, catalog); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// addAdapters builds the adapters that have targets and consumes their command topics.
func (n *node) addAdapters(db *pgxpool.Pool, catalog *events.Registry) error {
	logger := n.logger.With("role", RoleAdapters)
	var drivers []effect.Driver
	pgCfg := n.cfg.Postgres
	pgCfg.Targets = n.cfg.PostgresTargets
	pg, err := postgres.New(pgCfg, logger)
	if err != nil {
		return err
	}
	drivers = append(drivers, pg)
	if len(n.cfg.KafkaTargets) > 0 {
		k, err := kafka.New(kafka.Config{Targets: n.cfg.KafkaTargets, Producers: n.cfg.KafkaProducers,
			Timeout: n.cfg.KafkaTimeout}, logger)
		if err != nil {
			pg.Close()
			return err
		}
		drivers = append(drivers, k)
	}
	if len(n.cfg.ConsulTargets) > 0 {
		c, err := consul.New(consul.Config{Targets: n.cfg.ConsulTargets, Watch: n.cfg.ConsulWatch}, logger)
		if err != nil {
			for _, d := range drivers {
				d.Close()
			}
			return err
		}
		drivers = append(drivers, c)
	}
	for i, d := range drivers {
		a, err := effect.New(d, n.cfg.effect(), db, catalog, logger)
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

// addSagas runs the saga engine: intents from Kafka start or join sagas, the adapters' outcome
// events on the events topic are their replies, and their timers come from PostgreSQL.
func (n *node) addSagas(db *pgxpool.Pool, catalog *events.Registry) error {
	contract, err := sagas.LoadContract(n.cfg.ContractPath)
	if err != nil {
		return err
	}
	engine, err := sagas.New(sagas.Config{DB: db, Registry: catalog, Targets: infrastate.Targets{}, Contract: contract, Topics: n.cfg.Topics},
		n.logger.With("role", RoleSagas))
	if err != nil {
		return err
	}
	wlog := watermill.NewSlogLogger(n.logger)
	timers, err := engine.TimersSubscriber(wsql.BeginnerFromPgx(db), wlog)
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

// consume adds a consumer handler (in its own Kafka consumer group unless sub is given), with the
// same error policy for every consumer: transient errors are retried with backoff, then the
// message is redelivered; permanent ones (events.Permanent) go to the group's poison topic with
// the reason.
func (n *node) consume(group, topic string, sub message.Subscriber, handle message.NoPublishHandlerFunc) error {
	wlog := watermill.NewSlogLogger(n.logger)
	if sub == nil {
		var err error
		if sub, err = bus.NewSubscriber(n.cfg.KafkaBrokers, group, wlog); err != nil {
			return err
		}
	}
	poison, err := middleware.PoisonQueueWithFilter(n.pub, n.cfg.Topics.Poison(group), events.Permanent)
	if err != nil {
		return fmt.Errorf("could not create poison queue of %s: %w", group, err)
	}
	retry := middleware.Retry{
		MaxRetries: 5, InitialInterval: 100 * time.Millisecond, MaxInterval: 5 * time.Second, Multiplier: 2,
		RandomizationFactor: 0.5, Logger: wlog,
		ShouldRetry: func(p middleware.RetryParams) bool { return !events.Permanent(p.Err) },
	}
	h := n.router.AddConsumerHandler(group, topic, sub, handle)
	h.AddMiddleware(poison, retry.Middleware)
	return nil
}

func (n *node) run(ctx context.Context) error {
	ln, err := net.Listen("tcp", n.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("could not listen on --http-addr %s: %w", n.cfg.HTTPAddr, err)
	}
	srv := &http.Server{Handler: n.httpHandler(), ReadHeaderTimeout: 5 * time.Second}
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
	if n.cfg.has(RoleRelay) && n.cfg.EventLogRetention > 0 {
		g.Go(func() error {
			return outbox.KeepEventLog(gctx, n.db, n.cfg.EventLogRetention, n.logger.With("role", RoleRelay))
		})
	}
	if n.projection != nil {
		g.Go(func() error { return n.projection.Run(gctx) })
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
	n.logger.InfoContext(ctx, "omni running", "roles", n.cfg.Roles, "http", "http://"+ln.Addr().String(),
		"kafka", n.cfg.KafkaBrokers)
	return g.Wait()
}

func (n *node) close() {
	for _, a := range n.adapters {
		a.Close()
	}
	if n.pub != nil {
		_ = n.pub.Close()
	}
}

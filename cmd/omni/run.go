package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/handlers/consul"
	"github.com/omninode/omnibase-infra/handlers/kafka"
	"github.com/omninode/omnibase-infra/handlers/postgres"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/projections/infrastate"
)

// runFlags are the settings of a running node, shared by run and dev.
type runFlags struct {
	roles          string
	httpAddr       string
	pgTargets      []string
	kafkaTargets   []string
	consulTargets  []string
	watchPrefixes  []string
	watchServices  []string
	probeInterval  time.Duration
	probeTimeout   time.Duration
	commandTimeout time.Duration
	breakerFails   uint32
	breakerOpenFor time.Duration
	maxCommand     int
	retention      time.Duration
	pgMaxConns     int32
	pgMaxRows      int64
	pgMaxResult    int
	kafkaProducers int
	projBatch      int
	kafkaTimeout   time.Duration
	thresholds     infrastate.Thresholds
	contract       string
	skipMigrate    bool
}

func (r *runFlags) register(cmd *cobra.Command, defaultProbeInterval time.Duration) {
	f := cmd.Flags()
	def := infrastate.DefaultThresholds()
	f.StringVar(&r.roles, "roles", "adapters,relay,projection,sagas", "roles to run: any of adapters, relay, projection, sagas")
	f.StringVar(&r.httpAddr, "http-addr", envOr("OMNI_HTTP_ADDR", "127.0.0.1:8081"), "address of /healthz, /readyz and /metrics (env OMNI_HTTP_ADDR)")
	f.StringArrayVar(&r.pgTargets, "postgres-target", nil, "PostgreSQL target, NAME=URL (repeatable; default: the control database as \"control\")")
	f.StringArrayVar(&r.pgTargets, "probe-target", nil, "same as --postgres-target")
	_ = f.MarkHidden("probe-target")
	f.StringArrayVar(&r.kafkaTargets, "kafka-target", nil, "Kafka target, NAME=HOST:PORT[,HOST:PORT] (repeatable; default: --kafka-brokers as \"bus\")")
	f.StringArrayVar(&r.consulTargets, "consul-target", nil, "Consul target, NAME=HOST:PORT (repeatable; default: --consul-addr as \"agent\", when set)")
	f.StringArrayVar(&r.watchPrefixes, "consul-watch-prefix", nil, "Consul KV prefix to watch on every Consul target (repeatable)")
	f.StringArrayVar(&r.watchServices, "consul-watch-service", nil, "Consul service to watch on every Consul target (repeatable)")
	f.DurationVar(&r.probeInterval, "probe-interval", defaultProbeInterval, "time between probes of a target")
	f.DurationVar(&r.probeTimeout, "probe-timeout", 2*time.Second, "timeout of one probe")
	f.DurationVar(&r.commandTimeout, "command-timeout", 10*time.Second, "timeout of one adapter command, retries included")
	f.Int32Var(&r.pgMaxConns, "postgres-max-conns", 4, "connections of each PostgreSQL target's pool")
	f.Int64Var(&r.pgMaxRows, "postgres-max-rows", 1000, "most rows a PostgreSQL query command may return")
	f.IntVar(&r.pgMaxResult, "postgres-max-result-bytes", 256<<10, "largest PostgreSQL query result, as JSON")
	f.IntVar(&r.projBatch, "projection-batch", 100, "most events of a partition the projection applies in one transaction")
	f.DurationVar(&r.kafkaTimeout, "kafka-timeout", 5*time.Second, "timeout of one request of the Kafka adapter to a broker (keep it under --probe-timeout for timely probes)")
	f.IntVar(&r.kafkaProducers, "kafka-producers", 2, "producers in each Kafka target's pool: publishes to one cluster at once")
	f.DurationVar(&r.retention, "event-log-retention", 0, "how long the event log keeps events (0: forever)")
	f.IntVar(&r.maxCommand, "max-command-bytes", 1<<20, "largest command payload an adapter accepts")
	f.Uint32Var(&r.breakerFails, "breaker-failures", 5, "failures in a row that open a target's circuit breaker")
	f.DurationVar(&r.breakerOpenFor, "breaker-open-for", 10*time.Second, "how long a breaker stays open before it lets a trial call through")
	f.IntVar(&r.thresholds.DegradedAfter, "degraded-after", def.DegradedAfter, "consecutive failed probes that make a target degraded")
	f.IntVar(&r.thresholds.CriticalAfter, "critical-after", def.CriticalAfter, "consecutive failed probes that make a target critical")
	f.IntVar(&r.thresholds.HealthyAfter, "healthy-after", def.HealthyAfter, "consecutive successful probes that make a target healthy again")
	f.DurationVar(&r.thresholds.LatencyWindow, "latency-window", def.LatencyWindow, "how far back a target's latency statistics (min, avg, max, p95) reach")
	f.IntVar(&r.thresholds.LatencySamples, "latency-samples", def.LatencySamples, "most latency samples a target's state keeps")
	f.StringVar(&r.contract, "contract", "", "saga contract file (default: the contract built in)")
	f.BoolVar(&r.skipMigrate, "skip-migrate", false, "do not apply migrations at start")
}

func (r *runFlags) config(g *globals) (app.Config, error) {
	roles, err := app.ParseRoles(r.roles)
	if err != nil {
		return app.Config{}, err
	}
	cfg := app.Config{
		DatabaseURL: g.databaseURL, KafkaBrokers: g.brokers(), ConsulAddr: g.consulAddr, Roles: roles,
		HTTPAddr: r.httpAddr, ProbeInterval: r.probeInterval, ProbeTimeout: r.probeTimeout,
		CommandTimeout: r.commandTimeout, MaxCommandBytes: r.maxCommand, EventLogRetention: r.retention, Thresholds: r.thresholds, ContractPath: r.contract, SkipMigrate: r.skipMigrate,
		ConsulWatch: consul.Watch{KeyPrefixes: r.watchPrefixes, Services: r.watchServices},
	}
	cfg.Breaker.Failures, cfg.Breaker.OpenFor = r.breakerFails, r.breakerOpenFor
	cfg.KafkaProducers, cfg.KafkaTimeout = r.kafkaProducers, r.kafkaTimeout
	cfg.ProjectionBatch = r.projBatch
	cfg.Postgres = postgres.Config{MaxConns: r.pgMaxConns, MaxRows: r.pgMaxRows, MaxResultBytes: r.pgMaxResult}
	for _, s := range r.pgTargets {
		t, err := postgres.ParseTarget(s)
		if err != nil {
			return app.Config{}, err
		}
		cfg.PostgresTargets = append(cfg.PostgresTargets, t)
	}
	for _, s := range r.kafkaTargets {
		t, err := kafka.ParseTarget(s)
		if err != nil {
			return app.Config{}, err
		}
		cfg.KafkaTargets = append(cfg.KafkaTargets, t)
	}
	for _, s := range r.consulTargets {
		t, err := consul.ParseTarget(s)
		if err != nil {
			return app.Config{}, err
		}
		cfg.ConsulTargets = append(cfg.ConsulTargets, t)
	}
	return cfg, nil
}

func newRunCmd(g *globals) *cobra.Command {
	var r runFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run roles of omnibase-infra against PostgreSQL and Kafka until SIGINT or SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := g.logger()
			if err != nil {
				return err
			}
			cfg, err := r.config(g)
			if err != nil {
				return err
			}
			return app.Run(cmd.Context(), cfg, logger)
		},
	}
	r.register(cmd, 5*time.Second)
	return cmd
}

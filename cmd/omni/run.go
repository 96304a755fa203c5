package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/handlers/consul"
	"github.com/omninode/omnibase-infra/handlers/kafka"
	"github.com/omninode/omnibase-infra/handlers/postgres"
	"github.com/omninode/omnibase-infra/internal/app"
)

// runFlags are the settings of a running node, shared by run and dev. The flags bind to the
// fields of an app.Config that starts as app.DefaultConfig(), so each flag's default is the one
// its component owns.
type runFlags struct {
	cfg           app.Config
	roles         string
	memoryLimit   string
	pgTargets     []string
	kafkaTargets  []string
	consulTargets []string
	rateLimits    []string
	// consoleAddr is --console-addr's default: off in run, on in dev.
	consoleAddr string
}

func (r *runFlags) register(cmd *cobra.Command, defaultProbeInterval time.Duration) {
	r.cfg = app.DefaultConfig()
	r.cfg.Adapters.ProbeInterval = defaultProbeInterval
	c := &r.cfg
	f := cmd.Flags()
	f.StringVar(&r.roles, "roles", "adapters,relay,projection,sagas", "roles to run: any of adapters, relay, projection, sagas")
	f.Int32Var(&c.DatabaseMaxConns, "database-max-conns", c.DatabaseMaxConns, "connections of the process's pool on the control database (unless DATABASE_URL sets pool_max_conns)")
	f.StringVar(&c.DatabaseCredentials, "database-credentials", "", "credentials of the control database: env:NAME, file:PATH, vault-kv:MOUNT/PATH#FIELD or vault-db:MOUNT/creds/ROLE (user and password win over DATABASE_URL's; renewed and rotated)")
	f.StringVar(&c.Vault.Addr, "vault-addr", "", "Vault server of vault-kv and vault-db credentials (default VAULT_ADDR)")
	f.StringVar(&c.Vault.TokenFile, "vault-token-file", "", "file holding the Vault token, re-read when rewritten (default VAULT_TOKEN)")
	f.StringVar(&c.HTTPAddr, "http-addr", c.HTTPAddr, "address of /healthz, /readyz and /metrics")
	f.StringArrayVar(&r.pgTargets, "postgres-target", nil, "PostgreSQL target, NAME=URL (repeatable; default: the control database as \"control\")")
	f.StringArrayVar(&r.pgTargets, "probe-target", nil, "same as --postgres-target")
	_ = f.MarkHidden("probe-target")
	f.StringArrayVar(&r.kafkaTargets, "kafka-target", nil, "Kafka target, NAME=HOST:PORT[,HOST:PORT] (repeatable; default: --kafka-brokers as \"bus\")")
	f.StringArrayVar(&r.consulTargets, "consul-target", nil, "Consul target, NAME=HOST:PORT (repeatable; default: --consul-addr as \"agent\", when set)")
	f.StringArrayVar(&c.Consul.Watch.KeyPrefixes, "consul-watch-prefix", nil, "Consul KV prefix to watch on every Consul target (repeatable)")
	f.StringArrayVar(&c.Consul.Watch.Services, "consul-watch-service", nil, "Consul service to watch on every Consul target (repeatable)")
	f.DurationVar(&c.Adapters.ProbeInterval, "probe-interval", c.Adapters.ProbeInterval, "time between probes of a target")
	f.DurationVar(&c.Adapters.ProbeTimeout, "probe-timeout", c.Adapters.ProbeTimeout, "timeout of one probe")
	f.DurationVar(&c.Adapters.CommandTimeout, "command-timeout", c.Adapters.CommandTimeout, "timeout of one adapter command, retries included")
	f.IntVar(&c.Adapters.MaxCommandBytes, "max-command-bytes", c.Adapters.MaxCommandBytes, "largest command payload an adapter accepts")
	f.DurationVar(&c.Adapters.LeaseTTL, "lease-ttl", c.Adapters.LeaseTTL, "how long an adapter process owns a target unless it renews (every third of it): a dead process's targets are taken over within this and a renewal")
	f.StringVar(&c.Adapters.Member, "adapter-member", "", "this process's name among an adapter's processes, in target leases and omni state (default host/pid/random)")
	f.Uint32Var(&c.Adapters.Breaker.Failures, "breaker-failures", c.Adapters.Breaker.Failures, "failures in a row that open a target's circuit breaker")
	f.DurationVar(&c.Adapters.Breaker.OpenFor, "breaker-open-for", c.Adapters.Breaker.OpenFor, "how long a breaker stays open before it lets a trial call through")
	f.Int32Var(&c.Postgres.MaxConns, "postgres-max-conns", c.Postgres.MaxConns, "connections of each PostgreSQL target's pool")
	f.Int64Var(&c.Postgres.MaxRows, "postgres-max-rows", c.Postgres.MaxRows, "most rows a PostgreSQL query command may return")
	f.IntVar(&c.Postgres.MaxResultBytes, "postgres-max-result-bytes", c.Postgres.MaxResultBytes, "largest PostgreSQL query result, as JSON")
	f.IntVar(&c.Kafka.Producers, "kafka-producers", c.Kafka.Producers, "producers in each Kafka target's pool: publishes to one cluster at once")
	f.DurationVar(&c.Kafka.Timeout, "kafka-timeout", c.Kafka.Timeout, "timeout of one request of the Kafka adapter to a broker (keep it under --probe-timeout for timely probes)")
	f.BoolVar(&c.Kafka.AllowControlTopics, kafka.AllowControlTopicsFlag, c.Kafka.AllowControlTopics,
		"let the Kafka adapter's publish write to the control topics (events, intents, commands, poison), around the outbox and the event log")
	f.StringVar(&c.Membership.InstanceID, "instance-id", "", "this process's stable id in its Kafka consumer groups (static membership): restarted with it, it consumes again at once; unique per process")
	f.DurationVar(&c.Membership.SessionTimeout, "kafka-session-timeout", c.Membership.SessionTimeout, "how long Kafka waits for a silent consumer before giving its partitions to the others")
	f.IntVar(&c.Projection.MaxBatch, "projection-batch", c.Projection.MaxBatch, "most events of a partition the projection applies in one transaction")
	f.IntVar(&c.Relay.BatchSize, "relay-batch", c.Relay.BatchSize, "most outbox rows the relay produces and acknowledges at once")
	f.DurationVar(&c.Relay.Retention, "outbox-retention", c.Relay.Retention, "how long delivered rows stay in the outbox (negative: forever)")
	f.DurationVar(&c.Retention.EventLog, "event-log-retention", c.Retention.EventLog, "how long the event log keeps events (0: forever)")
	f.DurationVar(&c.Retention.Inbox, "inbox-retention", 0, "how long the inbox remembers applied messages; keep it above the topics' retention (default: as long as the event log)")
	f.DurationVar(&c.Retention.CommandRecords, "command-record-retention", c.Retention.CommandRecords, "how long a command's record answers its redelivery")
	f.DurationVar(&c.Retention.Poison, "poison-retention", c.Retention.Poison, "how long poison_messages keeps what could never be handled")
	registerThresholds(f, &c.Thresholds)
	registerTLS(f, &c.TLS)
	f.StringVar(&c.Audit.KeyFile, "audit-key-file", "", "the audit log's Ed25519 checkpoint key (omni audit keygen): the relay role signs a checkpoint every --audit-checkpoint-interval while the log grows")
	f.DurationVar(&c.Audit.CheckpointInterval, "audit-checkpoint-interval", time.Minute, "time between the audit log's checkpoints")
	f.StringVar(&c.Audit.HMACKeyFile, "audit-hmac-key-file", "", "the audit HMAC key (base64, 32 bytes or more) under which the audit log keeps the secret values of the sagas' commands (omni cmd reads OMNI_AUDIT_HMAC_KEY_FILE)")
	f.StringVar(&c.Audit.ConsulWitness, "audit-consul-witness", "", "a Consul agent (HOST:PORT) whose KV keeps every audit checkpoint too, under "+audit.DefaultConsulPrefix)
	f.StringVar(&c.ContractPath, "contract", "", "saga contract file (default: the contract built in)")
	f.BoolVar(&c.SkipMigrate, "skip-migrate", false, "do not apply migrations at start")
	f.StringVar(&c.Console.Addr, "console-addr", r.consoleAddr, "address of the operations console (HOST:PORT; empty: no console)")
	f.StringVar(&c.Console.TokenFile, "console-token-file", "", "file of the console's login tokens, NAME:TOKEN a line: actions (requeue, discard) need a login")
	f.StringVar(&c.Console.TraceURL, "console-trace-url", "", "link of a trace in the console, {trace_id} replaced (http://localhost:16686/trace/{trace_id})")
	f.StringVar(&r.memoryLimit, "memory-limit", defaultMemoryLimit, "the Go runtime's soft memory limit, e.g. 40MiB, or off (GOMEMLIMIT wins)")
	registerRateLimits(f, &r.rateLimits, &c.Limits)
	// Every setting may come from the environment as well: OMNI_<FLAG>.
	bindEnv(f, nil)
}

// config is the flags' configuration with the globals and the targets filled in.
func (r *runFlags) config(g *globals) (app.Config, error) {
	roles, err := app.ParseRoles(r.roles)
	if err != nil {
		return app.Config{}, withCode(exitUsage, err)
	}
	if err := setMemoryLimit(r.memoryLimit); err != nil {
		return app.Config{}, withCode(exitUsage, err)
	}
	sec, err := g.security()
	if err != nil {
		return app.Config{}, err
	}
	cfg := r.cfg
	cfg.DatabaseURL, cfg.KafkaBrokers, cfg.ConsulAddr, cfg.Roles = g.databaseURL, g.brokers(), g.consulAddr, roles
	cfg.KafkaSecurity = sec
	cfg.Seal = g.seal.config()
	cfg.Seal.Vault = cfg.Vault
	cfg.Build = buildInfo()
	for _, s := range r.pgTargets {
		t, err := postgres.ParseTarget(s)
		if err != nil {
			return app.Config{}, withCode(exitUsage, err)
		}
		cfg.Postgres.Targets = append(cfg.Postgres.Targets, t)
	}
	for _, s := range r.kafkaTargets {
		t, err := kafka.ParseTarget(s)
		if err != nil {
			return app.Config{}, withCode(exitUsage, err)
		}
		cfg.Kafka.Targets = append(cfg.Kafka.Targets, t)
	}
	for _, s := range r.consulTargets {
		t, err := consul.ParseTarget(s)
		if err != nil {
			return app.Config{}, withCode(exitUsage, err)
		}
		cfg.Consul.Targets = append(cfg.Consul.Targets, t)
	}
	if err := rateLimitRules(r.rateLimits, &cfg.Limits); err != nil {
		return app.Config{}, err
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
	r.register(cmd, app.DefaultConfig().Adapters.ProbeInterval)
	return cmd
}

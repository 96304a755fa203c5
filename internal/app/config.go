// Package app wires omnibase-infra's roles into one process: one Watermill router, the probe
// schedule and the HTTP endpoints. cmd/omni parses flags into a Config and calls Run; the
// integration suite calls Run the same way.
package app

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/consul"
	"github.com/omninode/omnibase-infra/handlers/effect"
	"github.com/omninode/omnibase-infra/handlers/kafka"
	"github.com/omninode/omnibase-infra/handlers/postgres"
	"github.com/omninode/omnibase-infra/projections/infrastate"
)

// Role is a part of the system a process can run.
type Role string

const (
	RoleAdapters   Role = "adapters"
	RoleRelay      Role = "relay"
	RoleProjection Role = "projection"
	RoleSagas      Role = "sagas"
)

// AllRoles are the roles in the order they are wired.
var AllRoles = []Role{RoleAdapters, RoleRelay, RoleProjection, RoleSagas}

// ParseRoles reads a comma-separated list of roles.
func ParseRoles(s string) ([]Role, error) {
	var out []Role
	for _, part := range strings.Split(s, ",") {
		r := Role(strings.TrimSpace(part))
		if r == "" {
			continue
		}
		if !slices.Contains(AllRoles, r) {
			return nil, fmt.Errorf("--roles: unknown role %q (known: adapters, relay, projection, sagas)", r)
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("--roles: no role given (known: adapters, relay, projection, sagas)")
	}
	return out, nil
}

// Config is everything one omni process needs.
type Config struct {
	// DatabaseURL of the control database (outbox, inbox, projection, sagas). Required.
	DatabaseURL string
	// KafkaBrokers to publish to and consume from. Required.
	KafkaBrokers []string
	// ConsulAddr of a Consul agent; optional. When set and ConsulTargets is empty, the Consul
	// adapter acts on this agent as target "agent".
	ConsulAddr string
	// Roles to run. Required.
	Roles []Role
	// HTTPAddr serves /healthz, /readyz and /metrics. Default "127.0.0.1:8081".
	HTTPAddr string
	// PostgresTargets are the databases of the PostgreSQL adapter. Default: the control database, as "control".
	PostgresTargets []postgres.Target
	// Postgres holds the PostgreSQL adapter's limits (its Targets field is ignored: see
	// PostgresTargets). Default: the adapter's defaults.
	Postgres postgres.Config
	// KafkaProducers is the size of each Kafka target's producer pool. Default 2.
	KafkaProducers int
	// KafkaTimeout bounds one request of the Kafka adapter to a broker. Default 5s.
	KafkaTimeout time.Duration
	// KafkaTargets are the clusters of the Kafka adapter. Default: KafkaBrokers, as "bus".
	KafkaTargets []kafka.Target
	// ConsulTargets are the agents of the Consul adapter. Default: ConsulAddr as "agent" when set;
	// with neither, the Consul adapter does not run.
	ConsulTargets []consul.Target
	// ConsulWatch is what the Consul adapter watches on every target.
	ConsulWatch consul.Watch
	// ProbeInterval between probes of a target. Default 5s.
	ProbeInterval time.Duration
	// ProbeTimeout of one probe. Default 2s.
	ProbeTimeout time.Duration
	// CommandTimeout bounds one adapter command, its retries included. Default 10s.
	CommandTimeout time.Duration
	// Breaker of every adapter target. Default: effect's defaults (5 failures, open 10s).
	Breaker effect.Breaker
	// Retry of adapter commands' transient errors. Default: effect's defaults (3 attempts).
	Retry effect.Retry
	// MaxCommandBytes is the largest command an adapter accepts. Default 1 MiB.
	MaxCommandBytes int
	// Thresholds of the projection's health hysteresis. Default infrastate.DefaultThresholds().
	Thresholds infrastate.Thresholds
	// ProjectionBatch is the most events the projection applies in one transaction. Default 100.
	ProjectionBatch int
	// Topics. Default events.DefaultTopics().
	Topics events.Topics
	// ContractPath of the saga contract. Default: the contract built into the binary.
	ContractPath string
	// EventLogRetention is how long the relay role keeps events in the event log. Default 0:
	// forever.
	EventLogRetention time.Duration
	// SkipMigrate leaves the schema alone at start. Default false: migrations run at start.
	SkipMigrate bool
}

func (c *Config) setDefaults() {
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:8081"
	}
	if len(c.PostgresTargets) == 0 {
		c.PostgresTargets = []postgres.Target{{Name: "control", URL: c.DatabaseURL}}
	}
	if len(c.KafkaTargets) == 0 && len(c.KafkaBrokers) > 0 {
		c.KafkaTargets = []kafka.Target{{Name: "bus", Brokers: c.KafkaBrokers}}
	}
	if len(c.ConsulTargets) == 0 && c.ConsulAddr != "" {
		c.ConsulTargets = []consul.Target{{Name: "agent", Addr: c.ConsulAddr}}
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = 5 * time.Second
	}
	if c.ProbeTimeout == 0 {
		c.ProbeTimeout = 2 * time.Second
	}
	if c.Thresholds == (infrastate.Thresholds{}) {
		c.Thresholds = infrastate.DefaultThresholds()
	}
	if c.Topics == (events.Topics{}) {
		c.Topics = events.DefaultTopics()
	}
}

// Validate reports every problem, each naming the setting that is wrong.
func (c Config) Validate() error {
	var errs []error
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("DATABASE_URL (--database-url) is not set"))
	} else if _, err := pgxpool.ParseConfig(c.DatabaseURL); err != nil {
		errs = append(errs, fmt.Errorf("DATABASE_URL (--database-url) is invalid: %w", err))
	}
	if len(c.KafkaBrokers) == 0 {
		errs = append(errs, errors.New("KAFKA_BROKERS (--kafka-brokers) is not set"))
	}
	for _, b := range c.KafkaBrokers {
		if _, port, ok := strings.Cut(b, ":"); !ok || port == "" {
			errs = append(errs, fmt.Errorf("KAFKA_BROKERS (--kafka-brokers): %q is not HOST:PORT", b))
		}
	}
	if len(c.Roles) == 0 {
		errs = append(errs, errors.New("--roles: no role given"))
	}
	if c.EventLogRetention < 0 {
		errs = append(errs, errors.New("--event-log-retention must not be negative"))
	}
	if c.ProbeInterval < 0 || c.ProbeTimeout < 0 || c.CommandTimeout < 0 {
		errs = append(errs, errors.New("--probe-interval, --probe-timeout and --command-timeout must not be negative"))
	}
	if err := c.Thresholds.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Topics.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// effect is the adapters' shared configuration.
func (c Config) effect() effect.Config {
	return effect.Config{
		EventsTopic: c.Topics.Events, ProbeInterval: c.ProbeInterval, ProbeTimeout: c.ProbeTimeout,
		CommandTimeout: c.CommandTimeout, MaxCommandBytes: c.MaxCommandBytes, Breaker: c.Breaker, Retry: c.Retry,
	}
}

func (c Config) has(r Role) bool { return slices.Contains(c.Roles, r) }

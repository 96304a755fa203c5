// Package app is the composition root: it wires omnibase-infra's roles into one process — one
// Watermill router, the projection's batch consumer, the probe schedules and the HTTP endpoints —
// from the components' own configurations. cmd/omni binds flags to a Config and calls Run; the
// integration suite calls Run the same way. Nothing below it imports it.
package app

import (
	"errors"
	"fmt"
	"github.com/omninode/omnibase-infra/internal/console"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/consul"
	"github.com/omninode/omnibase-infra/handlers/effect"
	"github.com/omninode/omnibase-infra/handlers/kafka"
	"github.com/omninode/omnibase-infra/handlers/postgres"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/bus"
	"github.com/omninode/omnibase-infra/platform/consumer"
	"github.com/omninode/omnibase-infra/platform/credentials"
	"github.com/omninode/omnibase-infra/platform/ratelimit"
	"github.com/omninode/omnibase-infra/platform/seal"
	"github.com/omninode/omnibase-infra/platform/tlspolicy"
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

// Config is everything one omni process needs: a few settings of its own and the components'
// configurations, each with the defaults its component owns (DefaultConfig shows them; zero
// fields get them at Run). Fields a component needs from the process — the database pool, the
// publisher, the router, the topics — are filled in by Run.
type Config struct {
	// DatabaseURL of the control database (outbox, inbox, projection, sagas). Required.
	DatabaseURL string
	// DatabaseCredentials is a credentials reference (env:NAME, file:PATH,
	// vault-kv:MOUNT/PATH[#FIELD], vault-db:MOUNT/creds/ROLE) for the control database: its user
	// name and password win over DatabaseURL's, every new connection reads the current ones, and
	// the pool moves to rotated ones. Optional. The default "control" target uses it too.
	DatabaseCredentials string
	// Vault is the Vault server of vault-kv and vault-db references. Default: VAULT_ADDR and
	// VAULT_TOKEN, as Vault's own clients read them.
	Vault credentials.VaultConfig
	// Credentials is the credentials cache (its CheckInterval and StaticRefresh; the providers
	// are wired).
	Credentials credentials.Config
	// DatabaseMaxConns is the size of the process's pool on the control database, unless the URL
	// sets pool_max_conns. Default 20: every role's consumers, the relay's reads and writes and
	// the probes' records share it, and a pool too small makes them wait for one another.
	DatabaseMaxConns int32
	// KafkaBrokers to publish to and consume from. Required.
	KafkaBrokers []string
	// KafkaSecurity of every connection of the process to KafkaBrokers (TLS, SASL), and of the
	// Kafka adapter's default target. Default: plaintext, no authentication.
	KafkaSecurity bus.Security
	// ConsulAddr of a Consul agent; optional. When set and Consul.Targets is empty, the Consul
	// adapter acts on this agent as target "agent".
	ConsulAddr string
	// Roles to run. Required.
	Roles []Role
	// HTTPAddr serves /healthz, /readyz and /metrics. Default "127.0.0.1:8081".
	HTTPAddr string
	// Topics. Default events.DefaultTopics().
	Topics events.Topics
	// Membership is how every consumer of the process takes part in its Kafka consumer group:
	// a stable InstanceID (static membership) lets a restarted process consume again at once.
	// Default bus.DefaultMembership(): dynamic members, a 10s session.
	Membership bus.Membership

	// Policy is the error policy of every consumer (its Poison publisher is the process's).
	Policy consumer.PolicyConfig
	// Adapters is the runner every adapter shares: probe schedule, command timeout, breaker,
	// retries (its EventsTopic is Topics.Events).
	Adapters effect.Config
	// Postgres is the PostgreSQL adapter. Targets default: the control database, as "control".
	Postgres postgres.Config
	// Kafka is the Kafka adapter. Targets default: KafkaBrokers, as "bus" (its ControlTopics are
	// Topics).
	Kafka kafka.Config
	// Consul is the Consul adapter. Targets default: ConsulAddr as "agent" when set; with neither,
	// the Consul adapter does not run.
	Consul consul.Config
	// Thresholds of the projection's health hysteresis. Default infrastate.DefaultThresholds().
	Thresholds infrastate.Thresholds
	// Projection is the projection's batch consumer (MaxBatch, CloseTimeout; the rest is wired).
	Projection consumer.BatchConfig
	// Relay is the outbox relay (batch size, polling, retention; the rest is wired).
	Relay outbox.RelayConfig
	// Audit is the audit log's checkpointing: with a KeyFile, the relay role signs a checkpoint
	// every CheckpointInterval (default 1m) while the log grows.
	Audit AuditConfig
	// ContractPath of the saga contract. Default: the contract built into the binary.
	ContractPath string
	// Retention is how long the relay role keeps the event log, the inbox, the command and the
	// poison records (the DB is wired).
	Retention outbox.RetentionConfig
	// SkipMigrate leaves the schema alone at start. Default false: migrations run at start.
	SkipMigrate bool
	// Seal is where the keys that seal sensitive fields and sign every message come from.
	// Required: a key-encryption key, or Disabled.
	Seal SealConfig
	// Build is which omni this is, for omni_build_info on /metrics. Default: version "dev".
	Build BuildInfo
	// Limits are the rate limits of the adapters' commands (per client, endpoint, target; shared
	// by every process through the control database) and of the HTTP server (per client
	// address). Default none: nothing is limited.
	Limits ratelimit.Config
	// Console is the operations console: off unless Console.Addr is set (omni dev sets it).
	Console console.Config
	// TLS is the one TLS policy of every connection the process makes or accepts (profile, CA,
	// client and server certificates, reloads, expiry warnings). Default tlspolicy.DefaultConfig().
	TLS tlspolicy.Config
	// TLSPolicy is the policy built from TLS; filled in by Run (OpenTLS) unless given.
	TLSPolicy *tlspolicy.Policy
	// tlsRefusals carry the policy's refused handshakes to the node, which records each as a
	// security event (OpenTLS makes it when it builds the policy).
	tlsRefusals chan tlspolicy.Refusal
}

// SealConfig says where the key-encryption key (KEK) comes from; the data and MAC keys it wraps
// live in the control database (seal_keys), made at the first start.
type SealConfig struct {
	// KEKFile holds the KEK: 32 bytes as 64 hex digits or base64 (`omni keys new-kek`).
	KEKFile string
	// KEK is the KEK itself (from OMNI_SEAL_KEK). WARNING: a secret; never log it.
	KEK string
	// VaultTransit names a key of Vault's transit engine, "KEY" (mount "transit") or "MOUNT/KEY",
	// to be the KEK: the data and MAC keys are wrapped and unwrapped by Vault (envelope
	// encryption), and the KEK never leaves it. Vault is reached as Vault says.
	VaultTransit string
	// Vault is how VaultTransit reaches Vault.
	Vault credentials.VaultConfig
	// Wrapper, when set, is the KEK and the fields above are unused.
	Wrapper seal.KeyWrapper
	// Refresh is how old the process's copy of the keys may grow. Default 30s.
	Refresh time.Duration
	// Disabled runs without sealing, signing or verifying anything. WARNING: insecure — anyone
	// who can produce to the bus can forge commands and events; for tests that inject plain
	// messages only.
	Disabled bool
}

// DefaultConfig is a Config with every component's defaults filled in, as Run would fill them:
// cmd/omni binds its flags to it, so a flag's default is the component's and is written once.
func DefaultConfig() Config {
	return Config{
		HTTPAddr:         "127.0.0.1:8081",
		DatabaseMaxConns: 20,
		Topics:           events.DefaultTopics(),
		Membership:       bus.DefaultMembership(),
		Policy:           consumer.DefaultPolicyConfig(),
		Adapters:         effect.DefaultConfig(),
		Postgres:         postgres.DefaultConfig(),
		Kafka:            kafka.DefaultConfig(),
		Consul:           consul.DefaultConfig(),
		Thresholds:       infrastate.DefaultThresholds(),
		Projection:       consumer.DefaultBatchConfig(),
		Relay:            outbox.DefaultRelayConfig(),
		Retention:        outbox.DefaultRetentionConfig(),
		Credentials:      credentials.DefaultConfig(),
		Limits:           ratelimit.DefaultConfig(),
		Roles:            AllRoles,
		Console:          console.DefaultConfig(),
		TLS:              tlspolicy.DefaultConfig(),
	}
}

// setDefaults fills in what depends on other settings; the components fill in their own.
func (c *Config) setDefaults() {
	if c.Audit.CheckpointInterval == 0 {
		c.Audit.CheckpointInterval = time.Minute
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultConfig().HTTPAddr
	}
	if c.DatabaseMaxConns == 0 {
		c.DatabaseMaxConns = DefaultConfig().DatabaseMaxConns
	}
	if c.Topics == (events.Topics{}) {
		c.Topics = events.DefaultTopics()
	}
	if c.Thresholds == (infrastate.Thresholds{}) {
		c.Thresholds = infrastate.DefaultThresholds()
	}
	if len(c.Postgres.Targets) == 0 {
		c.Postgres.Targets = []postgres.Target{{Name: "control", URL: c.DatabaseURL, Credentials: c.DatabaseCredentials}}
	}
	if len(c.Kafka.Targets) == 0 && len(c.KafkaBrokers) > 0 {
		c.Kafka.Targets = []kafka.Target{{Name: "bus", Brokers: c.KafkaBrokers, Security: c.KafkaSecurity}}
	}
	if len(c.Consul.Targets) == 0 && c.ConsulAddr != "" {
		c.Consul.Targets = []consul.Target{{Name: "agent", Addr: c.ConsulAddr}}
	}
	c.Adapters.EventsTopic = c.Topics.Events
	c.Adapters.CommandTopics = c.Topics
	c.Kafka.ControlTopics = c.Topics
}

// Validate reports every problem of the process's own settings, each naming the setting; the
// components validate theirs when they are built.
func (c Config) Validate() error {
	var errs []error
	if err := c.Seal.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("DATABASE_URL (--database-url) is not set"))
	} else if _, err := pgxpool.ParseConfig(c.DatabaseURL); err != nil {
		errs = append(errs, fmt.Errorf("DATABASE_URL (--database-url) is invalid: %w", err))
	}
	if c.DatabaseCredentials != "" {
		if _, err := credentials.ParseRef(c.DatabaseCredentials); err != nil {
			errs = append(errs, fmt.Errorf("--database-credentials: %w", err))
		}
	}
	if err := c.Credentials.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(c.KafkaBrokers) == 0 {
		errs = append(errs, errors.New("KAFKA_BROKERS (--kafka-brokers) is not set"))
	}
	if err := c.Membership.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("consumer-group membership (--instance-id, --kafka-session-timeout): %w", err))
	}
	for _, b := range c.KafkaBrokers {
		if _, port, ok := strings.Cut(b, ":"); !ok || port == "" {
			errs = append(errs, fmt.Errorf("KAFKA_BROKERS (--kafka-brokers): %q is not HOST:PORT", b))
		}
	}
	if err := c.KafkaSecurity.ValidateAs(SecurityFlags); err != nil {
		errs = append(errs, err)
	}
	if len(c.Roles) == 0 {
		errs = append(errs, errors.New("--roles: no role given"))
	}
	if c.Adapters.ProbeInterval < 0 || c.Adapters.ProbeTimeout < 0 || c.Adapters.CommandTimeout < 0 {
		errs = append(errs, errors.New("--probe-interval, --probe-timeout and --command-timeout must not be negative"))
	}
	if err := c.Thresholds.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Topics.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Limits.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("--rate-limit: %w", err))
	}
	if err := c.Console.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("--console-*: %w", err))
	}
	return Mark(errors.Join(errs...), ErrInvalidConfig)
}

// SecurityFlags name the fields of KafkaSecurity as omni's flags do, for the errors of Validate.
var SecurityFlags = map[string]string{
	"TLS.CAFile":     "--kafka-tls-ca",
	"TLS.CertFile":   "--kafka-tls-cert",
	"TLS.KeyFile":    "--kafka-tls-key",
	"SASL.Mechanism": "--kafka-sasl-mechanism",
	"SASL.User":      "--kafka-sasl-user",
	"SASL.Password":  "the SASL password (OMNI_KAFKA_SASL_PASSWORD or --kafka-sasl-password-file)",
}

func (c Config) has(r Role) bool { return slices.Contains(c.Roles, r) }

// AuditConfig configures the audit log's checkpoints.
type AuditConfig struct {
	// KeyFile holds the Ed25519 checkpoint key (omni audit keygen). Empty: no checkpoints.
	KeyFile string
	// CheckpointInterval between checkpoints. Default 1m.
	CheckpointInterval time.Duration
	// ConsulWitness is the address of a Consul agent (HOST:PORT) whose KV keeps every checkpoint
	// too, under audit.DefaultConsulPrefix: a witness outside the database besides Kafka's.
	// Empty: none.
	ConsulWitness string
	// HMACKeyFile holds the key (base64, 32 bytes or more) of the HMACs under which the audit
	// log keeps the secret values of the commands the sagas send. Empty: they are withheld.
	HMACKeyFile string
}

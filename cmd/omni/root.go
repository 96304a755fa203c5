package main

import (
	"context"
	"log/slog"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/platform/bus"
)

// saslPasswordEnv holds the control bus's SASL password. WARNING: the password has no flag, so
// it is never in a process listing, a shell history or a help text.
const saslPasswordEnv = "OMNI_KAFKA_SASL_PASSWORD"

// globals are the settings every subcommand shares. Flags win over the environment.
type globals struct {
	databaseURL  string
	kafkaBrokers string
	consulAddr   string
	logLevel     string
	logFormat    string
	// configFile is --config, a YAML file of settings under the command line and the environment.
	configFile string
	// kafka is the control bus's security but for the password, which security reads.
	kafka            bus.Security
	saslPasswordFile string
	// seal says where the key-encryption key comes from (keys.go).
	seal sealFlags
}

// globalEnv are the variables of the globals that keep their standard names; the others are
// OMNI_<FLAG>.
var globalEnv = map[string]string{"database-url": "DATABASE_URL", "kafka-brokers": "KAFKA_BROKERS", "consul-addr": "CONSUL_HTTP_ADDR"}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "omni",
		Short:         "omnibase-infra: an event-sourced control plane for PostgreSQL, Kafka and Consul",
		Version:       buildInfo().Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Every command's flags not given on the command line come from their variables, then
		// from --config: flag > environment > file > default.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags(), os.LookupEnv); err != nil {
				return withCode(exitUsage, err)
			}
			return applyConfigFile(cmd, g.configFile)
		},
	}
	root.SetVersionTemplate("omni {{.Version}}\n")
	g.register(root.PersistentFlags())
	root.AddCommand(newRunCmd(g), newDevCmd(g), newMigrateCmd(g), newStateCmd(g), newIntentsCmd(g), newCmdCmd(g), newReplayCmd(g),
		newSagasCmd(g), newContractCmd(), newReadinessCmd(), newAuditCmd(g), newKeysCmd(g), newVersionCmd(), newEventsCmd(g), newExplainCmd(), newPoisonCmd(g), newTLSCmd(g))
	markUsage(root)
	return root
}

func (g *globals) register(f *pflag.FlagSet) {
	f.StringVar(&g.databaseURL, "database-url", "", "control database URL")
	f.StringVar(&g.kafkaBrokers, "kafka-brokers", "", "comma-separated Kafka brokers HOST:PORT")
	f.StringVar(&g.consulAddr, "consul-addr", "", "Consul agent HTTP address")
	f.StringVar(&g.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&g.logFormat, "log-format", "text", "text or json")
	f.StringVar(&g.configFile, "config", "", configEnvHint)
	f.BoolVar(&g.kafka.TLS.Enabled, "kafka-tls", false, "connect to the Kafka brokers over TLS (implied by the other --kafka-tls-* flags)")
	f.StringVar(&g.kafka.TLS.CAFile, "kafka-tls-ca", "", "PEM file of the CA certificates that sign the brokers' (default: the system's)")
	f.StringVar(&g.kafka.TLS.CertFile, "kafka-tls-cert", "", "PEM client certificate for mutual TLS with the brokers (with --kafka-tls-key)")
	f.StringVar(&g.kafka.TLS.KeyFile, "kafka-tls-key", "", "PEM key of --kafka-tls-cert")
	f.StringVar(&g.kafka.TLS.ServerName, "kafka-tls-server-name", "", "name the brokers' certificates must carry (default: the host dialled)")
	f.StringVar(&g.kafka.SASL.Mechanism, "kafka-sasl-mechanism", "", "SASL mechanism to the brokers: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (default: none)")
	f.StringVar(&g.kafka.SASL.User, "kafka-sasl-user", "", "SASL user to the brokers")
	f.StringVar(&g.saslPasswordFile, "kafka-sasl-password-file", "",
		"file holding the SASL password (or set "+saslPasswordEnv+"; the password itself is never a flag)")
	g.seal.register(f)
	bindEnv(f, globalEnv)
}

func (g *globals) brokers() []string {
	var out []string
	for _, b := range strings.Split(g.kafkaBrokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// security is the control bus's security with the password read from OMNI_KAFKA_SASL_PASSWORD
// or --kafka-sasl-password-file, checked: its errors name the flags and never hold the password.
func (g *globals) security() (bus.Security, error) {
	sec := g.kafka
	env, fromEnv := os.LookupEnv(saslPasswordEnv)
	fromEnv = fromEnv && env != ""
	switch {
	case fromEnv && g.saslPasswordFile != "":
		return bus.Security{}, usageError("%s and --kafka-sasl-password-file are both set: give one", saslPasswordEnv)
	case fromEnv:
		sec.SASL.Password = bus.Secret(env)
	case g.saslPasswordFile != "":
		b, err := os.ReadFile(g.saslPasswordFile)
		if err != nil {
			return bus.Security{}, usageError("--kafka-sasl-password-file: %w", err)
		}
		sec.SASL.Password = bus.Secret(strings.TrimRight(string(b), "\r\n"))
	}
	if err := sec.ValidateAs(app.SecurityFlags); err != nil {
		return bus.Security{}, usageError("invalid config: %w", err)
	}
	return sec, nil
}

// logger builds the process's one logger.
func (g *globals) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, usageError("--log-level %q: want debug, info, warn or error", g.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch g.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, usageError("--log-format %q: want text or json", g.logFormat)
}

// connect opens a pool on the control database, naming DATABASE_URL when it is not set.
func (g *globals) connect(ctx context.Context) (*pgxpool.Pool, error) {
	if err := g.requireDatabase(); err != nil {
		return nil, err
	}
	return app.Connect(ctx, g.databaseURL)
}

func (g *globals) requireDatabase() error {
	if g.databaseURL == "" {
		return usageError("DATABASE_URL (--database-url) is not set")
	}
	return nil
}

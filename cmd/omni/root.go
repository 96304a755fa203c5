package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/internal/app"
)

// globals are the settings every subcommand shares. Flags win over the standard variables.
type globals struct {
	databaseURL  string
	kafkaBrokers string
	consulAddr   string
	logLevel     string
	logFormat    string
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "omni",
		Short:         "omnibase-infra: an event-sourced control plane for PostgreSQL, Kafka and Consul",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	f := root.PersistentFlags()
	f.StringVar(&g.databaseURL, "database-url", os.Getenv("DATABASE_URL"), "control database URL (env DATABASE_URL)")
	f.StringVar(&g.kafkaBrokers, "kafka-brokers", os.Getenv("KAFKA_BROKERS"), "comma-separated Kafka brokers HOST:PORT (env KAFKA_BROKERS)")
	f.StringVar(&g.consulAddr, "consul-addr", os.Getenv("CONSUL_HTTP_ADDR"), "Consul agent HTTP address (env CONSUL_HTTP_ADDR)")
	f.StringVar(&g.logLevel, "log-level", envOr("OMNI_LOG_LEVEL", "info"), "debug, info, warn or error (env OMNI_LOG_LEVEL)")
	f.StringVar(&g.logFormat, "log-format", envOr("OMNI_LOG_FORMAT", "text"), "text or json (env OMNI_LOG_FORMAT)")
	root.AddCommand(newRunCmd(g), newDevCmd(g), newMigrateCmd(g), newStateCmd(g), newIntentsCmd(g), newCmdCmd(g), newReplayCmd(g),
		newSagasCmd(g), newContractCmd())
	return root
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
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

// logger builds the process's one logger.
func (g *globals) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch g.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", g.logFormat)
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
		return fmt.Errorf("DATABASE_URL (--database-url) is not set")
	}
	return nil
}

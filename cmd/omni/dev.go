package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	consul "github.com/hashicorp/consul/api"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/internal/devkafka"
	"github.com/omninode/omnibase-infra/internal/devpg"
	"github.com/omninode/omnibase-infra/platform/seal"
	"github.com/omninode/omnibase-infra/projections/infrastate"
)

func newDevCmd(g *globals) *cobra.Command {
	var r runFlags
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole loop on this machine: a throwaway PostgreSQL and an in-process Kafka-protocol broker unless given",
		Long: `dev runs every role in one process. Without DATABASE_URL it starts a throwaway PostgreSQL
from the local server binaries (removed on exit); without KAFKA_BROKERS an in-process
Kafka-protocol broker; with CONSUL_HTTP_ADDR it checks that Consul answers and the Consul adapter
acts on it as the target "agent". It probes the control database, the broker (and every other
target given) and prints each change of the infrastructure state.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := g.logger()
			if err != nil {
				return err
			}
			return runDev(cmd.Context(), cmd.OutOrStdout(), g, &r, logger)
		},
	}
	r.register(cmd, 2*time.Second)
	return cmd
}

func runDev(ctx context.Context, out io.Writer, g *globals, r *runFlags, logger *slog.Logger) error {
	fmt.Fprintln(out, "omni dev: the whole loop on this machine")
	if g.databaseURL == "" {
		pg, err := devpg.Start(ctx, devpg.Config{}, logger)
		if err != nil {
			return fmt.Errorf("could not start a throwaway PostgreSQL (set DATABASE_URL to use your own): %w", err)
		}
		defer pg.Close()
		g.databaseURL = pg.URL()
		fmt.Fprintf(out, "  PostgreSQL  started, throwaway  %s\n", pg.URL())
	} else {
		fmt.Fprintf(out, "  PostgreSQL  DATABASE_URL       %s\n", redact(g.databaseURL))
	}
	if g.kafkaBrokers == "" {
		broker, err := devkafka.Start(devkafka.Config{Addr: "127.0.0.1:0"}, logger)
		if err != nil {
			return fmt.Errorf("could not start the in-process Kafka-protocol broker (set KAFKA_BROKERS to use yours): %w", err)
		}
		defer broker.Close()
		g.kafkaBrokers = strings.Join(broker.Addrs(), ",")
		fmt.Fprintf(out, "  Kafka       in-process broker  %s\n", g.kafkaBrokers)
	} else {
		fmt.Fprintf(out, "  Kafka       KAFKA_BROKERS      %s\n", g.kafkaBrokers)
	}
	if g.consulAddr != "" {
		leader, err := consulLeader(g.consulAddr)
		if err != nil {
			return fmt.Errorf("CONSUL_HTTP_ADDR %s: %w", g.consulAddr, err)
		}
		fmt.Fprintf(out, "  Consul      CONSUL_HTTP_ADDR   %s (leader %s)\n", g.consulAddr, leader)
	} else {
		fmt.Fprintln(out, "  Consul      not configured     (set CONSUL_HTTP_ADDR to use one)")
	}
	if err := g.seal.config().Validate(); err != nil {
		// dev makes its own key-encryption key, in a file only it and its user read, removed at exit
		dir, err := os.MkdirTemp("", "omni-dev-kek-")
		if err != nil {
			return fmt.Errorf("could not make a key-encryption key: %w", err)
		}
		defer os.RemoveAll(dir)
		kek, err := seal.NewKEKText()
		if err != nil {
			return err
		}
		g.seal.kekFile = filepath.Join(dir, "kek")
		if err := os.WriteFile(g.seal.kekFile, []byte(kek+"\n"), 0o600); err != nil {
			return fmt.Errorf("could not write the key-encryption key: %w", err)
		}
	}
	if g.seal.kekFile != "" {
		fmt.Fprintf(out, "  Keys        OMNI_SEAL_KEK_FILE %s\n", g.seal.kekFile)
	}
	cfg, err := r.config(g)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nWhere to look:\n  http://%s/readyz   http://%s/metrics\n", cfg.HTTPAddr, cfg.HTTPAddr)
	fmt.Fprintf(out, "  DATABASE_URL='%s' omni state\n", g.databaseURL)
	fmt.Fprintf(out, "State changes are printed below; Ctrl-C stops everything and removes what dev started.\n\n")

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, cfg, logger) }()
	db, err := app.Connect(ctx, g.databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	seen := map[string]infrastate.Status{}
	for {
		select {
		case err := <-done:
			return err
		case <-ticker.C:
			printChanges(ctx, out, db, seen)
		}
	}
}

// printChanges prints each target whose status changed since the last call.
func printChanges(ctx context.Context, out io.Writer, db *pgxpool.Pool, seen map[string]infrastate.Status) {
	states, err := infrastate.List(ctx, db)
	if err != nil {
		return // the schema may not exist yet in the first second
	}
	for _, s := range states {
		if seen[s.AdapterID] == s.Status {
			continue
		}
		seen[s.AdapterID] = s.Status
		fmt.Fprintf(out, "%s  %-20s %-9s probes=%d latency=%s %s\n", time.Now().Format(time.TimeOnly), s.AdapterID, s.Status,
			s.Probes, time.Duration(s.LastLatencyMicros)*time.Microsecond, s.LastError)
	}
}

func consulLeader(addr string) (string, error) {
	client, err := consul.NewClient(&consul.Config{Address: addr})
	if err != nil {
		return "", fmt.Errorf("invalid Consul address: %w", err)
	}
	leader, err := client.Status().Leader()
	if err != nil {
		return "", fmt.Errorf("could not reach Consul: %w", err)
	}
	return leader, nil
}

// redact hides a password in a URL before it is printed.
func redact(url string) string {
	at := strings.LastIndex(url, "@")
	scheme := strings.Index(url, "://")
	if at < 0 || scheme < 0 {
		return url
	}
	userinfo := url[scheme+3 : at]
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		return url[:scheme+3] + user + ":***" + url[at:]
	}
	return url
}

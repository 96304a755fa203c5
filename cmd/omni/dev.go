package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	consul "github.com/hashicorp/consul/api"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/handlers/kafka"
	"github.com/omninode/omnibase-infra/handlers/postgres"
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
	r.consoleAddr = devConsoleAddr
	r.register(cmd, 2*time.Second)
	return cmd
}

// devConsoleAddr is where omni dev serves the operations console unless told otherwise.
const devConsoleAddr = "127.0.0.1:8090"

func runDev(ctx context.Context, out io.Writer, g *globals, r *runFlags, logger *slog.Logger) error {
	// Refuse a taken --http-addr (a second omni dev) before starting anything.
	if err := checkListen("--http-addr", r.cfg.HTTPAddr); err != nil {
		return err
	}
	if r.cfg.Console.Addr != "" {
		// Port 0 becomes a free port here, so the banner can say where the console is.
		addr, err := freeAddr("--console-addr", r.cfg.Console.Addr)
		if err != nil {
			return err
		}
		r.cfg.Console.Addr = addr
	}
	fmt.Fprintln(out, "omni dev: the whole loop on this machine")
	var removed []string
	// exports are the variables another shell needs to reach what dev runs.
	var exports []string
	if g.databaseURL == "" {
		pg, err := devpg.Start(ctx, devpg.Config{}, logger)
		if err != nil {
			return fmt.Errorf("could not start a throwaway PostgreSQL (set DATABASE_URL to use your own): %w", err)
		}
		defer pg.Close()
		g.databaseURL = pg.URL()
		fmt.Fprintf(out, "  PostgreSQL  started, throwaway  %s\n", pg.URL())
		removed = append(removed, "the throwaway PostgreSQL and its data")
	} else {
		fmt.Fprintf(out, "  PostgreSQL  DATABASE_URL       %s\n", redact(g.databaseURL))
	}
	exports = append(exports, "DATABASE_URL='"+redact(g.databaseURL)+"'")
	if g.kafkaBrokers == "" {
		broker, err := devkafka.Start(devkafka.Config{Addr: "127.0.0.1:0"}, logger)
		if err != nil {
			return fmt.Errorf("could not start the in-process Kafka-protocol broker (set KAFKA_BROKERS to use yours): %w", err)
		}
		defer broker.Close()
		g.kafkaBrokers = strings.Join(broker.Addrs(), ",")
		fmt.Fprintf(out, "  Kafka       in-process broker  %s\n", g.kafkaBrokers)
		removed = append(removed, "the in-process broker")
	} else {
		fmt.Fprintf(out, "  Kafka       KAFKA_BROKERS      %s\n", g.kafkaBrokers)
	}
	exports = append(exports, "KAFKA_BROKERS='"+g.kafkaBrokers+"'")
	if g.consulAddr != "" {
		leader, err := consulLeader(g.consulAddr)
		if err != nil {
			return unreachable(fmt.Errorf("CONSUL_HTTP_ADDR %s: %w", g.consulAddr, err))
		}
		fmt.Fprintf(out, "  Consul      CONSUL_HTTP_ADDR   %s (leader %s)\n", g.consulAddr, leader)
		exports = append(exports, "CONSUL_HTTP_ADDR='"+g.consulAddr+"'")
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
		// omni cmd and the rest seal and open with the same keys: they need the KEK too.
		exports = append(exports, "OMNI_SEAL_KEK_FILE='"+g.seal.kekFile+"'")
	}
	cfg, err := r.config(g)
	if err != nil {
		return err
	}
	keepDefaultTargets(&cfg)
	omni := invokedAs()
	fmt.Fprintf(out, "\nWhere to look:\n  http://%s/readyz   http://%s/metrics   http://%s/status\n", cfg.HTTPAddr, cfg.HTTPAddr, cfg.HTTPAddr)
	if cfg.Console.Addr != "" {
		fmt.Fprintf(out, "  http://%s/   the operations console\n", cfg.Console.Addr)
	}
	fmt.Fprintf(out, "  in another shell:\n    export %s\n", strings.Join(exports, " "))
	if strings.Contains(exports[0], ":***@") {
		fmt.Fprintln(out, "    (the password is hidden: put yours in its place)")
	}
	fmt.Fprintf(out, "    %s state\n    %s cmd postgres probe --target control --wait\n", omni, omni)
	fmt.Fprintf(out, "State changes are printed below; Ctrl-C stops everything and removes what dev started.\n\n")

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, cfg, logger) }()
	db, err := app.Connect(ctx, g.databaseURL)
	if err != nil {
		cancel()
		<-done
		return err
	}
	defer db.Close()
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	seen := map[string]infrastate.Status{}
	for {
		select {
		case err := <-done:
			if err != nil {
				return err
			}
			if len(removed) > 0 {
				// The deferred Closes run as this returns; say what they remove.
				fmt.Fprintf(out, "\nstopped; removed %s\n", strings.Join(removed, " and "))
			} else {
				fmt.Fprintln(out, "\nstopped")
			}
			return nil
		case <-ticker.C:
			printChanges(ctx, out, db, seen)
		}
	}
}

// freeAddr is addr with a free port in place of port 0, or addr itself when nothing listens on it.
func freeAddr(flag, addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", usageError("%s %s: %w (another omni dev? give it another address: %s 127.0.0.1:0)", flag, addr, err, flag)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// checkListen refuses an address something already listens on, naming the flag.
func checkListen(flag, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return usageError("%s %s: %w (another omni dev? give it another address: %s 127.0.0.1:0)", flag, addr, err, flag)
	}
	return ln.Close()
}

// keepDefaultTargets keeps the control database ("control") and the bus ("bus") among dev's
// targets when others are given: --postgres-target orders=… adds a second database to probe, as
// the README says, rather than replacing the first.
func keepDefaultTargets(cfg *app.Config) {
	if len(cfg.Postgres.Targets) > 0 && !slices.ContainsFunc(cfg.Postgres.Targets, func(t postgres.Target) bool { return t.Name == "control" }) {
		cfg.Postgres.Targets = append([]postgres.Target{{Name: "control", URL: cfg.DatabaseURL}}, cfg.Postgres.Targets...)
	}
	if len(cfg.Kafka.Targets) > 0 && !slices.ContainsFunc(cfg.Kafka.Targets, func(t kafka.Target) bool { return t.Name == "bus" }) {
		cfg.Kafka.Targets = append([]kafka.Target{{Name: "bus", Brokers: cfg.KafkaBrokers, Security: cfg.KafkaSecurity}}, cfg.Kafka.Targets...)
	}
}

// invokedAs is how to run this omni again from the same directory: ./bin/omni when it was run so
// (omni is not on PATH after make build), else omni.
func invokedAs() string {
	if strings.Contains(os.Args[0], "/") {
		return os.Args[0]
	}
	return "omni"
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
		line := fmt.Sprintf("%s  %-20s %-9s probes=%d latency=%s", time.Now().Format(time.TimeOnly), s.AdapterID, s.Status,
			s.Probes, micros(s.LastLatencyMicros))
		if s.LastError != "" {
			line += "  " + truncate(singleLine(s.LastError), 120)
		}
		fmt.Fprintln(out, line)
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

// redact hides a password in a URL before it is printed (postgres://me:***@host/db).
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

// Command kafka-broker runs a Kafka-protocol broker (franz-go's kfake) until SIGINT or SIGTERM.
// It is the suite's Kafka: no Kafka broker is packaged anywhere these machines reach.
//
// Clients find the broker at the address it advertises, which is its listener's own: run it with
// host networking on a free port and every client dials 127.0.0.1:PORT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/omninode/omnibase-infra/internal/devkafka"
)

func main() {
	var cfg devkafka.Config
	flag.StringVar(&cfg.Addr, "addr", "127.0.0.1:9092", "HOST:PORT to listen on and advertise")
	flag.IntVar(&cfg.NumPartitions, "partitions", 4, "partitions of topics created on first use")
	flag.StringVar(&cfg.DataDir, "data-dir", "", "keep the log here, synced, so a restart loses nothing acknowledged")
	flag.StringVar(&cfg.TLSCertFile, "tls-cert", "", "PEM certificate: the listener speaks TLS only (with -tls-key)")
	flag.StringVar(&cfg.TLSKeyFile, "tls-key", "", "PEM key of -tls-cert")
	flag.Func("sasl-user", "MECHANISM:USER:PASSWORD a client must authenticate as, repeatable (a test broker's throwaway user)",
		func(s string) error {
			mech, rest, ok1 := strings.Cut(s, ":")
			user, pass, ok2 := strings.Cut(rest, ":")
			if !ok1 || !ok2 {
				return errors.New("want MECHANISM:USER:PASSWORD")
			}
			cfg.SASLUsers = append(cfg.SASLUsers, devkafka.SASLUser{Mechanism: mech, User: user, Password: pass})
			return nil
		})
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	broker, err := devkafka.Start(cfg, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kafka-broker:", err)
		os.Exit(1)
	}
	<-ctx.Done()
	broker.Close()
	logger.Info("Kafka-protocol broker stopped")
}

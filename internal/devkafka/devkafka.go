// Package devkafka runs an in-process Kafka-protocol broker (franz-go's kfake) for `omni dev` and
// for the suite's broker image: topics are created on first use, like a broker with
// auto.create.topics.enable, so nothing has to be provisioned first.
package devkafka

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Config configures a Broker.
type Config struct {
	// Addr to listen on, HOST:PORT. Default "127.0.0.1:0" (a free port). Clients reach the broker
	// at the address it advertises, which is this listener's own.
	Addr string
	// NumPartitions of topics created on first use. Default 4.
	NumPartitions int
	// DataDir keeps the log on disk (with synchronous writes) so a restart loses nothing it
	// acknowledged. Default "": in memory only.
	DataDir string
	// TLSCertFile and TLSKeyFile, when given, make the listener speak TLS only, with this PEM
	// certificate and key. Default: plaintext. Both or neither.
	TLSCertFile, TLSKeyFile string
	// SASLUsers, when given, make every client authenticate as one of them (each a superuser:
	// no ACLs). Default: no authentication.
	SASLUsers []SASLUser
}

// SASLUser is a user clients may authenticate as.
type SASLUser struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism string
	User      string
	Password  string
}

func (c *Config) setDefaults() {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.NumPartitions == 0 {
		c.NumPartitions = 4
	}
}

// Validate reports every problem of the configuration.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("broker address %q: %w", c.Addr, err))
	}
	if c.NumPartitions < 1 {
		errs = append(errs, fmt.Errorf("partitions per topic is %d, must be at least 1", c.NumPartitions))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("TLS certificate and key: give both or neither"))
	}
	for _, u := range c.SASLUsers {
		switch {
		case u.Mechanism != "PLAIN" && u.Mechanism != "SCRAM-SHA-256" && u.Mechanism != "SCRAM-SHA-512":
			errs = append(errs, fmt.Errorf("SASL user %q: mechanism %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", u.User, u.Mechanism))
		case u.User == "" || u.Password == "":
			errs = append(errs, fmt.Errorf("SASL user %q: user and password must not be empty", u.User))
		}
	}
	return errors.Join(errs...)
}

// Broker is a running in-process broker.
type Broker struct {
	cluster *kfake.Cluster
}

// Start starts a broker listening on cfg.Addr.
func Start(cfg Config, logger *slog.Logger) (*Broker, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	host, port, _ := net.SplitHostPort(cfg.Addr)
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(cfg.NumPartitions),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, port))
		}),
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir), kfake.SyncWrites())
	}
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("could not load the broker's TLS certificate: %w", err)
		}
		opts = append(opts, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	}
	if len(cfg.SASLUsers) > 0 {
		opts = append(opts, kfake.EnableSASL())
		for _, u := range cfg.SASLUsers {
			opts = append(opts, kfake.Superuser(u.Mechanism, u.User, u.Password))
		}
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("could not start Kafka-protocol broker on %s: %w", cfg.Addr, err)
	}
	logger.Info("Kafka-protocol broker started", "addrs", cluster.ListenAddrs(), "data_dir", cfg.DataDir,
		"tls", cfg.TLSCertFile != "", "sasl_users", len(cfg.SASLUsers))
	return &Broker{cluster: cluster}, nil
}

// Addrs are the broker's HOST:PORT addresses.
func (b *Broker) Addrs() []string { return b.cluster.ListenAddrs() }

// Close stops the broker.
func (b *Broker) Close() { b.cluster.Close() }

// Port of the broker's first listener.
func (b *Broker) Port() int {
	_, p, _ := net.SplitHostPort(b.Addrs()[0])
	n, _ := strconv.Atoi(p)
	return n
}

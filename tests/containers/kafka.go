package containers

import (
	"context"
	"fmt"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/omninode/omnibase-infra/platform/bus"
	"github.com/omninode/omnibase-infra/tests/images"
)

// Kafka is a Kafka-protocol broker (franz-go's kfake) in a container. Topics are created on first
// use with four partitions.
type Kafka struct {
	*Server
	// Addr is the broker's HOST:PORT, the same inside and outside containers (host networking).
	Addr string
	// Security is how clients connect to it: zero but for a broker of StartSecureKafka.
	Security bus.Security
}

// Brokers is the list of bootstrap addresses.
func (k *Kafka) Brokers() []string { return []string{k.Addr} }

// StartKafka starts a broker and waits until it answers metadata requests. It keeps its log in
// memory: a restart starts it empty.
func StartKafka(ctx context.Context) (*Kafka, error) { return startKafka(ctx, bus.Security{}, nil) }

// StartDurableKafka starts a broker that keeps its log on disk, synced, so that a stop and a
// start lose nothing it acknowledged (topics, their ids and records, committed offsets), as a
// real broker's restart would.
func StartDurableKafka(ctx context.Context) (*Kafka, error) {
	return startKafka(ctx, bus.Security{}, nil, "-data-dir", "/data")
}

// SecureKafka is a broker that speaks TLS only and requires SASL.
type SecureKafka struct {
	// CertFile and KeyFile are the broker's PEM certificate and key (for 127.0.0.1).
	CertFile, KeyFile string
	// Mechanism, User and Password are the one user clients authenticate as.
	Mechanism, User, Password string
	// Client is how the helper's readiness check connects (the CA, the same user).
	Client bus.Security
}

// StartSecureKafka starts a broker that speaks TLS with s's certificate and takes s's user only.
func StartSecureKafka(ctx context.Context, s SecureKafka) (*Kafka, error) {
	return startKafka(ctx, s.Client, []testcontainers.ContainerCustomizer{s.files()}, s.options()...)
}

func (s SecureKafka) options() []string {
	return []string{"-tls-cert", "/broker-cert.pem", "-tls-key", "/broker-key.pem",
		"-sasl-user", s.Mechanism + ":" + s.User + ":" + s.Password}
}

func (s SecureKafka) files() testcontainers.CustomizeRequestOption {
	return testcontainers.WithFiles(
		testcontainers.ContainerFile{HostFilePath: s.CertFile, ContainerFilePath: "/broker-cert.pem", FileMode: 0o444},
		testcontainers.ContainerFile{HostFilePath: s.KeyFile, ContainerFilePath: "/broker-key.pem", FileMode: 0o444})
}

func startKafka(ctx context.Context, sec bus.Security, opts []testcontainers.ContainerCustomizer, args ...string) (*Kafka, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s, err := start(ctx, images.Kafka, append(opts,
		testcontainers.WithCmd(append([]string{"-addr", addr}, args...)...),
		testcontainers.WithWaitStrategy(wait.ForLog("Kafka-protocol broker started").WithStartupTimeout(60*time.Second)),
	)...)
	if err != nil {
		return nil, err
	}
	k := &Kafka{Server: s, Addr: addr, Security: sec}
	return k, k.waitReady(ctx)
}

// Start starts the stopped broker again, on the same address, and waits until it answers. A
// broker of StartKafka comes back empty; one of StartDurableKafka with what it had.
func (k *Kafka) Start(ctx context.Context) error {
	if err := k.ctr.Start(ctx); err != nil {
		return fmt.Errorf("could not start the Kafka-protocol broker again: %w", err)
	}
	return k.waitReady(ctx)
}

func (k *Kafka) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return poll(ctx, "Kafka-protocol broker at "+k.Addr+" answering", func(ctx context.Context) error {
		secOpts, err := k.Security.Franz()
		if err != nil {
			return err
		}
		cl, err := kgo.NewClient(append(secOpts, kgo.SeedBrokers(k.Addr))...)
		if err != nil {
			return err
		}
		defer cl.Close()
		return cl.Ping(ctx)
	})
}

package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/IBM/sarama"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/effect"
)

// Driver talks to the configured Kafka clusters.
type Driver struct {
	cfg     Config
	names   []string
	brokers map[string][]string
	logger  *slog.Logger
}

var _ effect.Driver = (*Driver)(nil)

// New builds the driver. It connects lazily, so a cluster that is down at start-up is reported
// unhealthy rather than failing the start.
func New(cfg Config, logger *slog.Logger) (*Driver, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	d := &Driver{cfg: cfg, brokers: map[string][]string{}, logger: logger}
	for _, t := range cfg.Targets {
		d.names = append(d.names, t.Name)
		d.brokers[t.Name] = t.Brokers
	}
	return d, nil
}

func (d *Driver) Adapter() string            { return events.AdapterKafka }
func (d *Driver) Targets() []string          { return d.names }
func (d *Driver) Commands() []events.Command { return nil }
func (d *Driver) Close()                     {}

// Execute runs one command against target.
func (d *Driver) Execute(ctx context.Context, target string, cmd events.Command) (any, error) {
	return nil, fmt.Errorf("kafka adapter cannot execute %s yet", cmd.Kind())
}

// Probe asks the cluster for its metadata.
func (d *Driver) Probe(ctx context.Context, target string) (effect.Health, error) {
	sc := sarama.NewConfig()
	sc.Version = sarama.V2_8_0_0
	cl, err := sarama.NewClient(d.brokers[target], sc)
	if err != nil {
		return effect.Health{}, err
	}
	defer cl.Close()
	_, err = cl.Controller()
	return effect.Health{}, err
}

// Transient reports whether err may go away by itself.
func (d *Driver) Transient(err error) bool {
	return err != nil && !errors.Is(err, context.Canceled)
}

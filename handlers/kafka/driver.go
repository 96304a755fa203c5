package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/effect"
)

// Driver talks to the configured Kafka clusters: one client, cluster admin and producer pool per
// target, each made on first use, so a cluster that is down at start-up is reported unhealthy
// rather than failing the start.
type Driver struct {
	names    []string
	clusters map[string]*cluster

	calls effect.Calls // Execute, Probe, Initialize and Recover in flight: see call
}

var (
	_ effect.Driver      = (*Driver)(nil)
	_ effect.Recoverer   = (*Driver)(nil)
	_ effect.Initializer = (*Driver)(nil)
)

// New builds the driver. It does not connect: each target connects on its first command or probe.
func New(cfg Config, logger *slog.Logger) (*Driver, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d := &Driver{clusters: map[string]*cluster{}}
	for _, t := range cfg.Targets {
		d.names = append(d.names, t.Name)
		d.clusters[t.Name] = &cluster{name: t.Name, brokers: t.Brokers, security: t.Security, cfg: cfg,
			logger: logger.With("adapter_id", events.AdapterID(events.AdapterKafka, t.Name))}
	}
	return d, nil
}

// Adapter is the adapter's name, the middle of its command topic (infra.commands.<adapter>) and
// the first half of every adapter id.
func (d *Driver) Adapter() string { return events.AdapterKafka }

// Targets are the names of the Kafka targets configured, in the order given.
func (d *Driver) Targets() []string { return d.names }

// Commands are the Kafka adapter's commands.
func (d *Driver) Commands() []events.Command {
	return []events.Command{events.KafkaPublish{}, events.KafkaEnsureTopic{}, events.KafkaDescribeCluster{}}
}

// Transient reports whether err may go away by itself.
func (d *Driver) Transient(err error) bool { return transient(err) }

// Execute runs one command against target.
func (d *Driver) Execute(ctx context.Context, target string, cmd events.Command) (events.Result, error) {
	c, ok := d.clusters[target]
	if !ok {
		return nil, fmt.Errorf("%w: kafka target %q is not configured", errBadCommand, target)
	}
	var run func() (events.Result, error)
	switch cmd := cmd.(type) {
	case events.KafkaPublish:
		run = func() (events.Result, error) { return c.publish(ctx, cmd) }
	case events.KafkaEnsureTopic:
		run = func() (events.Result, error) { return c.ensureTopic(cmd) }
	case events.KafkaDescribeCluster:
		run = func() (events.Result, error) { return c.describe() }
	default:
		return nil, fmt.Errorf("%w: kafka adapter cannot execute %s", errBadCommand, cmd.Kind())
	}
	return call(ctx, d, target, run)
}

// Probe asks the cluster for fresh metadata and reports what it says, with the producer error
// rate since the last probe. Its Details:
//
//   - metadata_latency_us: the metadata request's round trip, in microseconds
//   - brokers: how many brokers the metadata lists
//   - controller_id: the controller's broker id
//   - topics: how many topics the metadata lists (internal topics included)
//   - producer_publishes: publishes tried since the last probe, each retry counted; a command
//     refused before producing (bad base64, reserved header, a control topic) is not
//   - producer_errors: how many of those failed
//   - producer_error_rate: producer_errors / producer_publishes, three decimals ("0.000" when
//     nothing was published)
//
// The producer keys are there even when the cluster cannot be reached; the others only when it
// answered. The counters restart at zero with every probe.
func (d *Driver) Probe(ctx context.Context, target string) (effect.Health, error) {
	c, ok := d.clusters[target]
	if !ok {
		return effect.Health{}, fmt.Errorf("kafka target %q is not configured", target)
	}
	details := c.takeProducerStats().details()
	meta, err := call(ctx, d, target, c.metadata)
	if err != nil {
		return effect.Health{Details: details}, err
	}
	details["metadata_latency_us"] = strconv.FormatInt(meta.latency.Microseconds(), 10)
	details["brokers"] = strconv.Itoa(len(meta.brokers))
	details["controller_id"] = strconv.Itoa(int(meta.controllerID))
	details["topics"] = strconv.Itoa(meta.topics)
	return effect.Health{Details: details}, nil
}

// producerStats counts publishes and failed publishes.
type producerStats struct{ publishes, errors int64 }

func (s producerStats) details() map[string]string {
	rate := 0.0
	if s.publishes > 0 {
		rate = float64(s.errors) / float64(s.publishes)
	}
	return map[string]string{
		"producer_publishes":  strconv.FormatInt(s.publishes, 10),
		"producer_errors":     strconv.FormatInt(s.errors, 10),
		"producer_error_rate": strconv.FormatFloat(rate, 'f', 3, 64),
	}
}

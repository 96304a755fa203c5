// Package fleet is the fleet's metrics: at each scrape, what the control database says about
// every target (status, breaker, owner), the intents raised, the sagas, the poison messages,
// and how far each Kafka consumer group is behind.
//
// Decision: these are read from the shared truth (the projection's and the engine's tables, the
// brokers' group offsets) when /metrics is scraped, with a short timeout, not counted in the
// process that saw each change: every process reports the same fleet view, whichever roles it
// runs, and a process that restarts does not lose or double count. The events the tables do not
// keep (each command's outcome, each saga step's duration) are counted where they happen instead
// (effect.CommandMetrics, sagas.StepMetrics).
package fleet

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/sagas"
)

// Config configures a Collector.
type Config struct {
	// DB is the control database. Required.
	DB pgtx.Querier
	// Kafka reads the consumer groups' lag. Optional: nil reports no Kafka lag.
	Kafka *kgo.Client
	// Timeout bounds each scrape's reads. Default 2s.
	Timeout time.Duration
}

func (c *Config) setDefaults() {
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
}

// Validate reports every problem of the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("fleet metrics: missing DB"))
	}
	return errors.Join(errs...)
}

// Collector is a prometheus.Collector of the fleet's state.
type Collector struct {
	cfg    Config
	logger *slog.Logger

	status, breaker, owner, intents, sagas, poison, lag, failed *prometheus.Desc
}

// NewCollector builds a Collector; register it in the process's registry.
func NewCollector(cfg Config, logger *slog.Logger) (*Collector, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	target := []string{"adapter", "target"}
	return &Collector{cfg: cfg, logger: logger,
		status: prometheus.NewDesc("omni_target_status",
			"1 for each target's current status (unknown, healthy, degraded, critical), 0 for the others, as the projection holds it.",
			append(target, "status"), nil),
		breaker: prometheus.NewDesc("omni_target_breaker_state",
			"1 for each target's current circuit breaker state (closed, open, half_open), 0 for the others.",
			append(target, "state"), nil),
		owner: prometheus.NewDesc("omni_target_owner",
			"1 for the adapter process (member) that owns each target; no series while none owns it.",
			append(target, "member"), nil),
		intents: prometheus.NewDesc("omni_intents_raised_total",
			"Intents the projection raised, by kind, since the control database was made.", []string{"kind"}, nil),
		sagas: prometheus.NewDesc("omni_sagas",
			"Saga instances by workflow and status (running, completed, failed, compensated, escalated).",
			[]string{"workflow", "status"}, nil),
		poison: prometheus.NewDesc("omni_poison_messages",
			"Poison messages kept (poison_messages), by the consumer group that gave them up.", []string{"consumer_group"}, nil),
		lag: prometheus.NewDesc("omni_consumer_group_lag",
			"Records of a topic that a Kafka consumer group has not committed yet (end offset minus committed offset, over the partitions).",
			[]string{"consumer_group", "topic"}, nil),
		failed: prometheus.NewDesc("omni_fleet_query_failed",
			"1 when a part of the fleet's metrics (targets, intents, sagas, poison, kafka_lag) could not be read at this scrape.",
			[]string{"query"}, nil),
	}, nil
}

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.status, c.breaker, c.owner, c.intents, c.sagas, c.poison, c.lag, c.failed} {
		ch <- d
	}
}

// Collect reads the fleet's state. A part that cannot be read within the timeout is left out
// and reported in omni_fleet_query_failed; the others are still reported.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	// WARNING: a scrape has no context of its own; the timeout bounds it.
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	parts := []struct {
		name    string
		collect func(context.Context, chan<- prometheus.Metric) error
	}{
		{"targets", c.targets}, {"intents", c.intentCounts}, {"sagas", c.sagaCounts}, {"poison", c.poisonCounts},
	}
	if c.cfg.Kafka != nil {
		parts = append(parts, struct {
			name    string
			collect func(context.Context, chan<- prometheus.Metric) error
		}{"kafka_lag", c.kafkaLag})
	}
	for _, p := range parts {
		failed := 0.0
		if err := p.collect(ctx, ch); err != nil {
			failed = 1
			c.logger.DebugContext(ctx, "could not read fleet metrics", "part", p.name, "error", err)
		}
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, failed, p.name)
	}
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func (c *Collector) targets(ctx context.Context, ch chan<- prometheus.Metric) error {
	rows, err := c.cfg.DB.Query(ctx, `SELECT adapter, target, status, coalesce(data->>'breaker', ''), coalesce(data->>'owner', '')
		FROM infrastructure_state`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var out []prometheus.Metric
	for rows.Next() {
		var adapter, target, status, breaker, owner string
		if err := rows.Scan(&adapter, &target, &status, &breaker, &owner); err != nil {
			return err
		}
		for _, s := range []events.Status{events.StatusUnknown, events.StatusHealthy, events.StatusDegraded, events.StatusCritical} {
			out = append(out, gauge(c.status, one(string(s) == status), adapter, target, string(s)))
		}
		if breaker == "" {
			breaker = string(events.BreakerClosed)
		}
		for _, s := range []events.BreakerState{events.BreakerClosed, events.BreakerOpen, events.BreakerHalfOpen} {
			out = append(out, gauge(c.breaker, one(string(s) == breaker), adapter, target, string(s)))
		}
		if owner != "" {
			out = append(out, gauge(c.owner, 1, adapter, target, owner))
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range out {
		ch <- m
	}
	return nil
}

func (c *Collector) intentCounts(ctx context.Context, ch chan<- prometheus.Metric) error {
	return c.counts(ctx, ch, `SELECT kind, count(*) FROM infrastructure_intents GROUP BY kind`, func(labels []string, n float64) prometheus.Metric {
		return prometheus.MustNewConstMetric(c.intents, prometheus.CounterValue, n, labels...)
	}, 1)
}

func (c *Collector) sagaCounts(ctx context.Context, ch chan<- prometheus.Metric) error {
	seen := map[[2]string]bool{}
	err := c.counts(ctx, ch, `SELECT workflow, status, count(*) FROM saga_instances GROUP BY workflow, status`,
		func(labels []string, n float64) prometheus.Metric {
			seen[[2]string{labels[0], labels[1]}] = true
			return gauge(c.sagas, n, labels...)
		}, 2)
	if err != nil {
		return err
	}
	// Every status of every workflow that has sagas, so a status that empties reads 0, not absent.
	workflows := map[string]bool{}
	for k := range seen {
		workflows[k[0]] = true
	}
	for w := range workflows {
		for _, s := range sagas.Statuses() {
			if !seen[[2]string{w, string(s)}] {
				ch <- gauge(c.sagas, 0, w, string(s))
			}
		}
	}
	return nil
}

func (c *Collector) poisonCounts(ctx context.Context, ch chan<- prometheus.Metric) error {
	return c.counts(ctx, ch, `SELECT consumer_group, count(*) FROM poison_messages GROUP BY consumer_group`,
		func(labels []string, n float64) prometheus.Metric { return gauge(c.poison, n, labels...) }, 1)
}

// counts sends one metric per row of query, whose columns are nlabels labels and a count.
func (c *Collector) counts(ctx context.Context, ch chan<- prometheus.Metric, query string, metric func([]string, float64) prometheus.Metric, nlabels int) error {
	rows, err := c.cfg.DB.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	var out []prometheus.Metric
	for rows.Next() {
		labels := make([]string, nlabels)
		dest := make([]any, 0, nlabels+1)
		for i := range labels {
			dest = append(dest, &labels[i])
		}
		var n int64
		if err := rows.Scan(append(dest, &n)...); err != nil {
			return err
		}
		out = append(out, metric(labels, float64(n)))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range out {
		ch <- m
	}
	return nil
}

func (c *Collector) kafkaLag(ctx context.Context, ch chan<- prometheus.Metric) error {
	lags, err := GroupLags(ctx, c.cfg.Kafka)
	if err != nil {
		return err
	}
	var errs []error
	for _, g := range lags {
		if g.Err != nil {
			errs = append(errs, g.Err)
			continue
		}
		ch <- gauge(c.lag, float64(g.Lag), g.Group, g.Topic)
	}
	return errors.Join(errs...)
}

func one(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

package outbox

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// LagCollector reports, at each scrape, how many committed outbox rows a relay's consumer group
// has not delivered yet and how old the oldest of them is.
type LagCollector struct {
	db      *pgxpool.Pool
	group   string
	pending *prometheus.Desc
	oldest  *prometheus.Desc
	errors  *prometheus.Desc
}

// NewLagCollector returns a collector for the relay consumer group group ("outbox-relay" by default).
func NewLagCollector(db *pgxpool.Pool, group string) *LagCollector {
	labels := prometheus.Labels{"consumer_group": group}
	return &LagCollector{
		db:      db,
		group:   group,
		pending: prometheus.NewDesc("omni_outbox_pending_rows", "Committed outbox rows not yet delivered to Kafka.", nil, labels),
		oldest:  prometheus.NewDesc("omni_outbox_oldest_pending_seconds", "Age of the oldest undelivered outbox row.", nil, labels),
		errors:  prometheus.NewDesc("omni_outbox_lag_query_failed", "1 when the lag could not be read at this scrape.", nil, labels),
	}
}

func (c *LagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.oldest
	ch <- c.errors
}

func (c *LagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var pending int64
	var oldest float64
	// Rows after the group's position, in watermill-sql's (transaction_id, offset) order; only
	// transactions visible to every snapshot count, as the relay sees them.
	err := c.db.QueryRow(ctx, `
		SELECT count(*), coalesce(extract(epoch FROM localtimestamp - min(o.created_at)), 0)::float8
		FROM watermill_outbox o
		LEFT JOIN watermill_offsets_outbox f ON f.consumer_group = $1
		WHERE o.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
		  AND (f.consumer_group IS NULL
		       OR o.transaction_id > f.last_processed_transaction_id
		       OR (o.transaction_id = f.last_processed_transaction_id AND o."offset" > f.offset_acked))`,
		c.group).Scan(&pending, &oldest)
	failed := 0.0
	if err != nil {
		failed = 1
	} else {
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(pending))
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, oldest)
	}
	ch <- prometheus.MustNewConstMetric(c.errors, prometheus.GaugeValue, failed)
}

package outbox

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RelayMetrics are the relay's Prometheus metrics, labelled by consumer group. Pending rows and
// the age of the oldest are LagCollector's.
type RelayMetrics struct {
	active   *prometheus.GaugeVec
	batch    *prometheus.HistogramVec
	produce  *prometheus.HistogramVec
	rows     *prometheus.CounterVec
	poisoned *prometheus.CounterVec
}

// NewRelayMetrics registers the relay's metrics with reg.
func NewRelayMetrics(reg prometheus.Registerer) *RelayMetrics {
	m := &RelayMetrics{
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "omni_relay_active",
			Help: "1 while this process holds the outbox and delivers it, 0 while it stands by."}, []string{"consumer_group"}),
		batch: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "omni_relay_batch_rows",
			Help: "Outbox rows per batch the relay read.", Buckets: []float64{1, 2, 5, 10, 50, 100, 500, 1000, 5000}},
			[]string{"consumer_group"}),
		produce: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "omni_relay_produce_seconds",
			Help:    "Time from producing a batch to its last acknowledgement.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30}}, []string{"consumer_group"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "omni_relay_delivered_total",
			Help: "Outbox rows delivered to Kafka and acknowledged."}, []string{"consumer_group"}),
		poisoned: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "omni_relay_poisoned_total",
			Help: "Outbox rows that could never be delivered, kept in poison_messages."}, []string{"consumer_group"}),
	}
	reg.MustRegister(m.active, m.batch, m.produce, m.rows, m.poisoned)
	return m
}

func (m *RelayMetrics) setActive(group string, active bool) {
	if m == nil {
		return
	}
	v := 0.0
	if active {
		v = 1
	}
	m.active.WithLabelValues(group).Set(v)
}

func (m *RelayMetrics) observeBatch(group string, rows int, produce time.Duration) {
	if m == nil {
		return
	}
	m.batch.WithLabelValues(group).Observe(float64(rows))
	m.produce.WithLabelValues(group).Observe(produce.Seconds())
}

func (m *RelayMetrics) delivered(group string, rows, poisoned int) {
	if m == nil {
		return
	}
	m.rows.WithLabelValues(group).Add(float64(rows))
	m.poisoned.WithLabelValues(group).Add(float64(poisoned))
}

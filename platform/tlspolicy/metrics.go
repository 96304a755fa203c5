package tlspolicy

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	handshakes *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "omni_tls_handshakes_total",
		Help: "TLS handshakes made under the policy, by endpoint, side (client or server) and result (ok or refused).",
	}, []string{"endpoint", "side", "result"})}
}

func (m *metrics) handshake(endpoint, side string, err error) {
	result := "ok"
	if err != nil {
		result = "refused"
	}
	m.handshakes.WithLabelValues(endpoint, side, result).Inc()
}

var expiryDesc = prometheus.NewDesc("omni_tls_certificate_expiry_seconds",
	"Seconds until the certificate expires (negative: expired), by endpoint, kind (cert, ca, client_ca), file and subject; a CA file's earliest.",
	[]string{"endpoint", "kind", "file", "subject"}, nil)

// collector reads the expiry of the current certificates at each scrape.
type collector struct{ p *Policy }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- expiryDesc
	c.p.metrics.handshakes.Describe(ch)
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.p.mu.Lock()
	uses := append([]use(nil), c.p.uses...)
	c.p.mu.Unlock()
	for _, u := range uses {
		u.w.mu.Lock()
		certs := u.w.cur.certs
		u.w.mu.Unlock()
		if len(certs) == 0 {
			continue
		}
		first := certs[0]
		for _, cert := range certs {
			if cert.NotAfter.Before(first.NotAfter) {
				first = cert
			}
		}
		ch <- prometheus.MustNewConstMetric(expiryDesc, prometheus.GaugeValue, time.Until(first.NotAfter).Seconds(),
			u.endpoint, u.kind, u.w.files[0], first.Subject.String())
	}
	c.p.metrics.handshakes.Collect(ch)
}

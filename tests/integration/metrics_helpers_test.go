package integration_test

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// scraped is one read of a process's /metrics, by metric family.
type scraped map[string]*dto.MetricFamily

// scrape reads http://addr/metrics.
func scrape(addr string) (scraped, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(resp.Body)
}

func mustScrape(t *testing.T, addr string) scraped {
	t.Helper()
	s, err := scrape(addr)
	require.NoError(t, err)
	return s
}

// value is the sample of name whose labels include labels: a gauge's or counter's value, or a
// histogram's count when name ends in _count. ok is false when no sample matches.
func (s scraped) value(name string, labels map[string]string) (v float64, ok bool) {
	family, count := name, false
	if f, found := strings.CutSuffix(name, "_count"); found && s[name] == nil {
		family, count = f, true
	}
	mf := s[family]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case count && m.GetHistogram() != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		case m.GetUntyped() != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// series lists name's samples as "name{labels} value", for messages.
func (s scraped) series(name string) string {
	mf := s[name]
	if mf == nil {
		return name + ": none"
	}
	var out []string
	for _, m := range mf.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		v := m.GetGauge().GetValue() + m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
		out = append(out, fmt.Sprintf("{%s} %g", strings.Join(ls, ","), v))
	}
	sort.Strings(out)
	return name + ": " + strings.Join(out, " ")
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	have := map[string]string{}
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

package integration_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// dashboardPath is the Grafana dashboard deploy/ ships.
const dashboardPath = "../../deploy/grafana/omnibase-infra.json"

// checkDashboard checks that every query of the Grafana dashboard names only metrics that s, a
// scrape of a running omni process after a loop with a fault ran, exports with at least one series.
func checkDashboard(t *testing.T, s scraped) {
	t.Helper()
	raw, err := os.ReadFile(dashboardPath)
	require.NoError(t, err)
	var dash struct {
		Panels []dashboardPanel `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(raw, &dash), "the dashboard is JSON")
	var exprs []string
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				require.NotEmpty(t, tg.Expr, "panel %q has a query without expr", p.Title)
				exprs = append(exprs, tg.Expr)
			}
			if p.Type != "row" {
				require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	require.NotEmpty(t, exprs)

	var missing []string
	names := map[string]bool{}
	for _, e := range exprs {
		got := promqlMetrics(e)
		require.NotEmpty(t, got, "query %q names no metric", e)
		for _, name := range got {
			names[name] = true
			if !s.exports(name) {
				missing = append(missing, name+" (in "+e+")")
			}
		}
	}
	t.Logf("the dashboard's %d queries name %d metrics", len(exprs), len(names))
	for _, want := range []string{"omni_target_status", "omni_target_breaker_state", "omni_target_owner", "omni_intents_raised_total",
		"omni_sagas", "omni_saga_step_duration_seconds_bucket", "omni_command_outcomes_total", "omni_poison_messages",
		"omni_consumer_group_lag", "omni_outbox_pending_rows"} {
		require.True(t, names[want], "the dashboard shows %s", want)
	}
	require.Empty(t, missing, "metrics the dashboard queries but the process does not export")
}

type dashboardPanel struct {
	Title   string `json:"title"`
	Type    string `json:"type"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"`
}

var (
	promqlStrings   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promqlMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	promqlRanges    = regexp.MustCompile(`\[[^\]]*\]`)
	promqlGrouping  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlIdent     = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promqlFunction  = regexp.MustCompile(`^\s*\(`)
	promqlOperators = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan"}
)

// promqlMetrics returns the metric names a PromQL expression selects: the identifiers left once
// strings, label matchers, ranges and grouping clauses are taken out, that are neither a
// function (followed by "(") nor a keyword.
func promqlMetrics(expr string) []string {
	e := promqlStrings.ReplaceAllString(expr, `""`)
	e = promqlMatchers.ReplaceAllString(e, " ")
	e = promqlRanges.ReplaceAllString(e, " ")
	e = promqlGrouping.ReplaceAllString(e, " ")
	var out []string
	for _, loc := range promqlIdent.FindAllStringIndex(e, -1) {
		name := e[loc[0]:loc[1]]
		if loc[0] > 0 && (e[loc[0]-1] >= '0' && e[loc[0]-1] <= '9' || e[loc[0]-1] == '.') {
			continue // the exponent or unit of a number (1e3, 5m)
		}
		if promqlFunction.MatchString(e[loc[1]:]) || slices.Contains(promqlOperators, strings.ToLower(name)) {
			continue
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

func TestPromQLMetrics_reads_the_metric_names_of_a_query(t *testing.T) {
	for name, tc := range map[string]struct {
		expr string
		want []string
	}{
		"a_selector":            {`omni_sagas{status="running"}`, []string{"omni_sagas"}},
		"aggregation_and_range": {`sum by (adapter, outcome) (increase(omni_command_outcomes_total{outcome=~"failed|rejected"}[5m]))`, []string{"omni_command_outcomes_total"}},
		"a_histogram_quantile":  {`histogram_quantile(0.95, sum by (le) (rate(omni_relay_produce_seconds_bucket[5m])))`, []string{"omni_relay_produce_seconds_bucket"}},
		"binary_operators":      {`max by (a) (x_total) / on (a) group_left y_total == 1 and z`, []string{"x_total", "y_total", "z"}},
	} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, promqlMetrics(tc.expr))
		})
	}
}

// exports reports whether s has at least one series of name: a family, or a histogram's
// _bucket, _sum or _count.
func (s scraped) exports(name string) bool {
	if mf := s[name]; mf != nil {
		return len(mf.GetMetric()) > 0
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if mf := s[base]; mf != nil && mf.GetType() == dto.MetricType_HISTOGRAM {
				return len(mf.GetMetric()) > 0
			}
		}
	}
	return false
}

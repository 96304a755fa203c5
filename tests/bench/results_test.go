package bench_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ResultsFile is where a run of the benchmarks writes its figures, at the module root: tools read
// the last run from there. It is gitignored.
const ResultsFile = "bench-results.json"

// Figure is one measured number of bench-results.json. A ratio names the two figures it divides:
// Value is Of / Over, both measured in the same run.
type Figure struct {
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Of    string  `json:"of,omitempty"`
	Over  string  `json:"over,omitempty"`
}

// Figures collects the figures of every benchmark of one `go test` run; TestMain writes them once
// the benchmarks are done, so figures of several benchmark functions land in one file.
type Figures struct {
	mu sync.Mutex
	m  map[string]Figure
}

// results is the run's collector. WARNING: package-level because benchmark functions share no
// other state; only TestMain writes it out.
var results = &Figures{m: map[string]Figure{}}

// Reporter is where a figure is also reported: the benchmark's line of `go test -bench`
// (*testing.B is one).
type Reporter interface {
	ReportMetric(n float64, unit string)
	Fatalf(format string, args ...any)
}

// Record keeps figure name and reports it on b's benchmark line as well, under the same name.
func (f *Figures) Record(b Reporter, name string, value float64, unit string) {
	f.set(name, Figure{Value: value, Unit: unit})
	b.ReportMetric(value, name)
}

// Ratio keeps name as of / over, both recorded before, and returns it.
func (f *Figures) Ratio(b Reporter, name, of, over string) float64 {
	f.mu.Lock()
	a, okA := f.m[of]
	c, okC := f.m[over]
	f.mu.Unlock()
	if !okA || !okC || c.Value == 0 {
		b.Fatalf("ratio %s: %s or %s not recorded (or zero)", name, of, over)
	}
	v := a.Value / c.Value
	f.set(name, Figure{Value: v, Unit: "x", Of: of, Over: over})
	b.ReportMetric(v, name)
	return v
}

// Get returns figure name as recorded so far.
func (f *Figures) Get(name string) (Figure, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fig, ok := f.m[name]
	return fig, ok
}

func (f *Figures) set(name string, fig Figure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[name] = fig
}

// Write writes the figures with the run's commit, start time and machine to path, as one JSON
// object keyed by figure name. passed is false when a benchmark failed: the figures it measured
// before failing are still written.
func (f *Figures) Write(path, commit string, ranAt time.Time, passed bool) error {
	f.mu.Lock()
	out := map[string]any{}
	for name, fig := range maps.All(f.m) {
		out[name] = fig
	}
	f.mu.Unlock()
	for _, key := range []string{"commit", "ran_at", "machine", "passed"} {
		if _, clash := out[key]; clash {
			return fmt.Errorf("figure %q has the name of a field of %s", key, ResultsFile)
		}
	}
	out["commit"] = commit
	out["ran_at"] = ranAt.UTC().Format(time.RFC3339)
	out["machine"] = map[string]any{"num_cpu": runtime.NumCPU(), "goos": runtime.GOOS, "goarch": runtime.GOARCH,
		"go": runtime.Version()}
	out["passed"] = passed
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("could not encode the figures: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("could not write %s: %w", path, err)
	}
	return nil
}

// metrics is a Reporter outside a benchmark.
type metrics struct {
	*testing.T
	got map[string]float64
}

func (m metrics) ReportMetric(n float64, unit string) { m.got[unit] = n }

func TestFiguresFile(t *testing.T) {
	m := metrics{T: t, got: map[string]float64{}}
	f := &Figures{m: map[string]Figure{}}
	f.Record(m, "relay_events_per_s", 3000, "events/s")
	f.Record(m, "stock_forwarder_events_per_s", 1500, "events/s")
	f.Ratio(m, "relay_over_stock_forwarder_x", "relay_events_per_s", "stock_forwarder_events_per_s")
	require.Equal(t, map[string]float64{"relay_events_per_s": 3000, "stock_forwarder_events_per_s": 1500,
		"relay_over_stock_forwarder_x": 2}, m.got, "each figure is on the benchmark's line under its name")

	path := filepath.Join(t.TempDir(), ResultsFile)
	ranAt := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	require.NoError(t, f.Write(path, "abc123-dirty", ranAt, true))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var got struct {
		Commit  string         `json:"commit"`
		RanAt   string         `json:"ran_at"`
		Machine map[string]any `json:"machine"`
		Passed  bool           `json:"passed"`
		Relay   Figure         `json:"relay_events_per_s"`
		Ratio   Figure         `json:"relay_over_stock_forwarder_x"`
	}
	require.NoError(t, json.Unmarshal(data, &got))
	require.Equal(t, "abc123-dirty", got.Commit)
	require.Equal(t, "2026-11-01T12:00:00Z", got.RanAt)
	require.EqualValues(t, runtime.NumCPU(), got.Machine["num_cpu"])
	require.True(t, got.Passed)
	require.Equal(t, Figure{Value: 3000, Unit: "events/s"}, got.Relay)
	require.Equal(t, Figure{Value: 2, Unit: "x", Of: "relay_events_per_s", Over: "stock_forwarder_events_per_s"}, got.Ratio,
		"a ratio names the figures it divides")
}

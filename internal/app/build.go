package app

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
)

// BuildInfo says which omni this is, as set from the build (cmd/omni's version).
type BuildInfo struct {
	// Version is the release ("v1.2.0"), or what git describe said of the tree built ("dev" when
	// the build did not say).
	Version string `json:"version"`
	// Revision is the commit built, with "-dirty" when the tree had changes; empty when unknown.
	Revision string `json:"revision"`
	// BuiltAt is when the commit was made (RFC 3339), as the toolchain recorded it; empty when unknown.
	BuiltAt string `json:"built_at"`
	// GoVersion is the toolchain that built the binary.
	GoVersion string `json:"go_version"`
}

// collector is omni_build_info{version, revision, go_version} 1 on /metrics, so a dashboard
// can tell which build each process runs.
func (b BuildInfo) collector() prometheus.Collector {
	if b.GoVersion == "" {
		b.GoVersion = runtime.Version()
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "omni_build_info",
		Help:        "Which omni this process is: always 1, the build in its labels.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Revision, "go_version": b.GoVersion},
	})
	g.Set(1)
	return g
}

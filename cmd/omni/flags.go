package main

import (
	"github.com/spf13/pflag"

	"github.com/omninode/omnibase-infra/projections/infrastate"
)

// registerThresholds binds the projection's hysteresis and latency flags to t, whose values are
// the defaults shown; run, dev and replay share them (replay must be given what the running
// projection was).
func registerThresholds(f *pflag.FlagSet, t *infrastate.Thresholds) {
	f.IntVar(&t.DegradedAfter, "degraded-after", t.DegradedAfter, "consecutive failed probes that make a target degraded")
	f.IntVar(&t.CriticalAfter, "critical-after", t.CriticalAfter, "consecutive failed probes that make a target critical")
	f.IntVar(&t.HealthyAfter, "healthy-after", t.HealthyAfter, "consecutive successful probes that make a target healthy again")
	f.DurationVar(&t.LatencyWindow, "latency-window", t.LatencyWindow, "how far back a target's latency statistics (min, avg, max, p95) reach")
	f.IntVar(&t.LatencySamples, "latency-samples", t.LatencySamples, "most latency samples a target's state keeps")
}

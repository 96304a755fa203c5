package effect

import (
	"github.com/prometheus/client_golang/prometheus"
)

// CommandMetrics counts the commands the adapters of one process ran, by outcome. A counter is
// kept where the command ran (sum over the processes for the fleet); the command records
// (processed_commands) are trimmed by retention, so a count read from them could go down.
type CommandMetrics struct {
	outcomes *prometheus.CounterVec
}

// NewCommandMetrics registers omni_command_outcomes_total{adapter,command,outcome} in reg.
func NewCommandMetrics(reg prometheus.Registerer) *CommandMetrics {
	m := &CommandMetrics{outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "omni_command_outcomes_total",
		Help: "Commands the adapters of this process answered, by adapter, command kind and outcome (succeeded, failed, rejected).",
	}, []string{"adapter", "command", "outcome"})}
	reg.MustRegister(m.outcomes)
	return m
}

// outcome counts one command's outcome (nil m: nothing).
func (m *CommandMetrics) outcome(adapter, command, outcome string) {
	if m != nil {
		m.outcomes.WithLabelValues(adapter, command, outcome).Inc()
	}
}

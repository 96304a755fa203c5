package sagas

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// StepMetrics times the saga steps the engine of this process finished: from the step's last
// "entered" in saga_steps to its step_done or step_failed (compensations are steps too). Kept
// where the step finished, as a histogram: sum it over the processes for the fleet.
type StepMetrics struct {
	durations *prometheus.HistogramVec
}

// NewStepMetrics registers omni_saga_step_duration_seconds{workflow,step,outcome} in reg.
func NewStepMetrics(reg prometheus.Registerer) *StepMetrics {
	m := &StepMetrics{durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "omni_saga_step_duration_seconds",
		Help:    "How long saga steps took, from entering the step to its end, by workflow, step and outcome (done, failed).",
		Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
	}, []string{"workflow", "step", "outcome"})}
	reg.MustRegister(m.durations)
	return m
}

// stepTime is one finished step, to observe once its transaction committed.
type stepTime struct {
	workflow, step, outcome string
	took                    time.Duration
}

// finishedSteps reads, inside tx after d was stored, how long each step d finished took.
func (m *StepMetrics) finishedSteps(ctx context.Context, tx pgx.Tx, d Decision[json.RawMessage]) ([]stepTime, error) {
	if m == nil {
		return nil, nil
	}
	var out []stepTime
	for _, e := range d.Timeline {
		var outcome string
		switch e.Event {
		case "step_done":
			outcome = "done"
		case "step_failed":
			outcome = "failed"
		default:
			continue
		}
		var secs float64
		err := tx.QueryRow(ctx, `SELECT coalesce(extract(epoch FROM max(s.recorded_at) FILTER (WHERE s.event <> 'entered')
				- max(s.recorded_at) FILTER (WHERE s.event = 'entered')), 0)::float8
			FROM saga_steps s WHERE s.saga_id = $1 AND s.step = $2`, d.Saga.ID, e.Step).Scan(&secs)
		if err != nil {
			return nil, fmt.Errorf("could not time step %s of saga %s: %w", e.Step, d.Saga.ID, err)
		}
		out = append(out, stepTime{workflow: d.Saga.Workflow, step: e.Step, outcome: outcome, took: time.Duration(secs * float64(time.Second))})
	}
	return out, nil
}

// observe records the steps' times (nil m: nothing).
func (m *StepMetrics) observe(steps []stepTime) {
	for _, s := range steps {
		m.durations.WithLabelValues(s.workflow, s.step, s.outcome).Observe(max(s.took, 0).Seconds())
	}
}

package sagas

import (
	"fmt"
	"time"

	"github.com/omninode/omnibase-infra/events"
)

// HealthCheckState is what a health check remembers between messages.
type HealthCheckState struct {
	// Targets are the adapter ids it probes, sorted.
	Targets []string `json:"targets,omitempty"`
	// States are the projection's statuses of Targets when the check read them.
	States map[string]events.Status `json:"states,omitempty"`
	// Health is what each target's probe found; Overall the verdict over them.
	Health  []events.TargetHealth `json:"health,omitempty"`
	Overall events.Status         `json:"overall,omitempty"`
}

// HealthCheck reads the targets from the projection, probes them all in parallel, aggregates the
// replies that came within the step's timeout (no reply is unknown), and publishes the report.
func HealthCheck() Definition[HealthCheckState] {
	return Definition[HealthCheckState]{Steps: map[string]Step[HealthCheckState]{
		"read_state":        {Enter: readState},
		"probe_adapters":    {Enter: probeAll, Finish: collectProbes},
		"aggregate_replies": {Enter: aggregateProbes},
		"publish_report":    {Enter: publishHealthReport},
	}}
}

func readState(s *Saga[HealthCheckState], v View, _ time.Time) ([]events.Command, Outcome) {
	targets := v.Select("")
	if len(targets) == 0 {
		return nil, Outcome{Verdict: Fail, Reason: "the projection knows no adapter targets yet"}
	}
	s.State.Targets, s.State.States = ids(targets), map[string]events.Status{}
	for _, t := range targets {
		s.State.States[t.ID()] = t.Status
	}
	return nil, Outcome{Reason: fmt.Sprintf("%d targets", len(targets))}
}

func probeAll(s *Saga[HealthCheckState], _ View, _ time.Time) ([]events.Command, Outcome) {
	return toEach(s.State.Targets, probe)
}

func collectProbes(s *Saga[HealthCheckState], replies map[string]Reply, _ bool, _ time.Time) Outcome {
	s.State.Health = nil
	for _, id := range s.State.Targets {
		r, ok := replies[id]
		verdict, why := probeVerdict(r, ok)
		s.State.Health = append(s.State.Health, events.TargetHealth{AdapterID: id, Probe: verdict,
			State: s.State.States[id], Error: why})
	}
	return Outcome{Reason: fmt.Sprintf("%d of %d replied", len(replies), len(s.State.Targets))}
}

func aggregateProbes(s *Saga[HealthCheckState], _ View, _ time.Time) ([]events.Command, Outcome) {
	status, healthy := overall(s.State.Health)
	s.State.Overall = status
	return nil, Outcome{Reason: fmt.Sprintf("%s: %d of %d healthy", s.State.Overall, healthy, len(s.State.Health))}
}

// overall is a health check's verdict: healthy when every probe was, critical when none was,
// degraded otherwise. It also says how many were.
func overall(health []events.TargetHealth) (events.Status, int) {
	healthy := 0
	for _, h := range health {
		if h.Probe == events.ProbeHealthy {
			healthy++
		}
	}
	switch {
	case healthy == len(health):
		return events.StatusHealthy, healthy
	case healthy == 0:
		return events.StatusCritical, healthy
	default:
		return events.StatusDegraded, healthy
	}
}

func publishHealthReport(s *Saga[HealthCheckState], _ View, now time.Time) ([]events.Command, Outcome) {
	report := events.InfrastructureHealthReported{SagaID: s.ID, Subject: s.Subject, Overall: s.State.Overall,
		Targets: s.State.Health, ReportedAt: now}
	return nil, Outcome{Reason: "published " + report.Kind().Name, Events: []events.Message{report}}
}

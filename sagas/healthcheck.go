package sagas

import (
	"fmt"
	"time"

	"github.com/omninode/omnibase-infra/events"
)

// healthCheck reads the targets from the projection, probes them all in parallel, aggregates the
// replies that came within the step's timeout (no reply is unknown), and publishes the report.
func healthCheck() Definition {
	return Definition{Steps: map[string]Step{
		"read_state":        {Enter: readState},
		"probe_adapters":    {Enter: probeTargets, Finish: collectProbes},
		"aggregate_replies": {Enter: aggregateProbes},
		"publish_report":    {Enter: publishHealthReport},
	}}
}

func readState(s *Saga, v View, _ time.Time) ([]events.Command, Outcome) {
	n := readTargets(s, v, "")
	if n == 0 {
		return nil, Outcome{Verdict: Fail, Reason: "the projection knows no adapter targets yet"}
	}
	return nil, Outcome{Reason: fmt.Sprintf("%d targets", n)}
}

func collectProbes(s *Saga, replies map[string]Reply, _ bool, _ time.Time) Outcome {
	s.Data.Health = nil
	for _, id := range s.Data.Targets {
		r, ok := replies[id]
		probe, why := probeVerdict(r, ok)
		s.Data.Health = append(s.Data.Health, events.TargetHealth{AdapterID: id, Probe: probe, State: s.Data.States[id], Error: why})
	}
	return Outcome{Reason: fmt.Sprintf("%d of %d replied", len(replies), len(s.Data.Targets))}
}

// aggregateProbes: healthy when every probe was, critical when none was, degraded otherwise.
func aggregateProbes(s *Saga, _ View, _ time.Time) ([]events.Command, Outcome) {
	healthy := 0
	for _, h := range s.Data.Health {
		if h.Probe == events.ProbeHealthy {
			healthy++
		}
	}
	switch {
	case healthy == len(s.Data.Health):
		s.Data.Overall = events.StatusHealthy
	case healthy == 0:
		s.Data.Overall = events.StatusCritical
	default:
		s.Data.Overall = events.StatusDegraded
	}
	return nil, Outcome{Reason: fmt.Sprintf("%s: %d of %d healthy", s.Data.Overall, healthy, len(s.Data.Health))}
}

func publishHealthReport(s *Saga, _ View, now time.Time) ([]events.Command, Outcome) {
	report := events.InfrastructureHealthReported{SagaID: s.ID, Subject: s.Subject, Overall: s.Data.Overall,
		Targets: s.Data.Health, ReportedAt: now}
	return nil, Outcome{Reason: "published " + report.Kind().Name, Events: []events.Message{report}}
}

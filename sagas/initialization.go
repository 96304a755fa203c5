package sagas

import (
	"fmt"
	"strings"
	"time"

	"github.com/omninode/omnibase-infra/events"
)

// initialization initializes the PostgreSQL, Kafka and Consul adapters' targets in the contract's
// order, each step waiting for every target's confirmation within its timeout, then verifies with
// a probe of every target. The first failure ends it with a report naming the step.
func initialization() Definition {
	return Definition{Steps: map[string]Step{
		"init_postgres": initAdapter(events.AdapterPostgres),
		"init_kafka":    initAdapter(events.AdapterKafka),
		"init_consul":   initAdapter(events.AdapterConsul),
		"verify_health": {Enter: verifyEnter, Finish: verifyFinish},
	}, Ended: initializationEnded}
}

func initAdapter(adapter string) Step {
	send := toEach(func(_ *Saga, adapter, target string) events.Command {
		return events.InitializeTarget{Adapter: adapter, Target: target}
	})
	return Step{Finish: allSucceeded, Enter: func(s *Saga, v View, now time.Time) ([]events.Command, Outcome) {
		if readTargets(s, v, adapter) == 0 {
			return nil, Outcome{Verdict: Fail, Reason: fmt.Sprintf("the projection knows no %s targets", adapter)}
		}
		return send(s, v, now)
	}}
}

func verifyEnter(s *Saga, v View, now time.Time) ([]events.Command, Outcome) {
	if readTargets(s, v, "") == 0 {
		return nil, Outcome{Verdict: Fail, Reason: "the projection knows no adapter targets"}
	}
	return probeTargets(s, v, now)
}

func verifyFinish(s *Saga, replies map[string]Reply, _ bool, _ time.Time) Outcome {
	var bad []string
	for _, id := range s.Data.Targets {
		r, ok := replies[id]
		if probe, why := probeVerdict(r, ok); probe != events.ProbeHealthy {
			bad = append(bad, fmt.Sprintf("%s %s %s", id, probe, why))
		}
	}
	if len(bad) > 0 {
		return Outcome{Verdict: Fail, Reason: "not healthy: " + strings.Join(bad, "; ")}
	}
	return Outcome{Reason: fmt.Sprintf("%d targets healthy", len(s.Data.Targets))}
}

func initializationEnded(s Saga, now time.Time) []events.Message {
	report := events.InitializationReported{SagaID: s.ID, Subject: s.Subject, Status: "completed",
		Initialized: s.Data.Completed, ReportedAt: now}
	if s.Status != StatusCompleted {
		report.Status, report.FailedStep, report.Reason = "failed", s.Data.FailedStep, s.Data.Failure
	}
	return []events.Message{report}
}

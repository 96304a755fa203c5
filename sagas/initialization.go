package sagas

import (
	"fmt"
	"strings"
	"time"

	"github.com/omninode/omnibase-infra/events"
)

// InitializationState is what an initialization remembers between messages.
type InitializationState struct {
	// Targets are the adapter ids the current step initializes or probes, sorted.
	Targets []string `json:"targets,omitempty"`
}

// Initialization initializes the PostgreSQL, Kafka and Consul adapters' targets in the contract's
// order, each step waiting for every target's confirmation within its timeout, then verifies with
// a probe of every target. The first failure ends it with a report naming the step.
func Initialization() Definition[InitializationState] {
	return Definition[InitializationState]{Steps: map[string]Step[InitializationState]{
		"init_postgres": initAdapter(events.AdapterPostgres, true),
		"init_kafka":    initAdapter(events.AdapterKafka, true),
		"init_consul":   initAdapter(events.AdapterConsul, false),
		"verify_health": {Enter: verifyEnter, Finish: verifyFinish},
	}, Ended: initializationEnded}
}

// initAdapter initializes every target of adapter. Without any, a required adapter (PostgreSQL:
// the control database is always one; Kafka: the bus) fails the step, and an optional one
// (Consul, which a deployment may not have) is skipped with a reason that says so.
func initAdapter(adapter string, required bool) Step[InitializationState] {
	return Step[InitializationState]{
		Enter: func(s *Saga[InitializationState], v View, _ time.Time) ([]events.Command, Outcome) {
			if s.State.Targets = ids(v.Select(adapter)); len(s.State.Targets) == 0 {
				if !required {
					return nil, Outcome{Verdict: Next, Reason: fmt.Sprintf("no %s targets configured: nothing to initialize", adapter)}
				}
				return nil, Outcome{Verdict: Fail, Reason: fmt.Sprintf("the projection knows no %s targets", adapter)}
			}
			return toEach(s.State.Targets, func(adapter, target string) events.Command {
				return events.InitializeTarget{Adapter: adapter, Target: target}
			})
		},
		Finish: func(s *Saga[InitializationState], replies map[string]Reply, _ bool, _ time.Time) Outcome {
			return allSucceeded(s.State.Targets, replies)
		},
	}
}

func verifyEnter(s *Saga[InitializationState], v View, _ time.Time) ([]events.Command, Outcome) {
	if s.State.Targets = ids(v.Select("")); len(s.State.Targets) == 0 {
		return nil, Outcome{Verdict: Fail, Reason: "the projection knows no adapter targets"}
	}
	return toEach(s.State.Targets, probe)
}

func verifyFinish(s *Saga[InitializationState], replies map[string]Reply, _ bool, _ time.Time) Outcome {
	var bad []string
	for _, id := range s.State.Targets {
		r, ok := replies[id]
		if verdict, why := probeVerdict(r, ok); verdict != events.ProbeHealthy {
			bad = append(bad, fmt.Sprintf("%s %s %s", id, verdict, why))
		}
	}
	if len(bad) > 0 {
		return Outcome{Verdict: Fail, Reason: "not healthy: " + strings.Join(bad, "; ")}
	}
	return Outcome{Reason: fmt.Sprintf("%d targets healthy", len(s.State.Targets))}
}

func initializationEnded(s Saga[InitializationState], now time.Time) []events.Message {
	report := events.InitializationReported{SagaID: s.ID, Subject: s.Subject, Status: "completed",
		Initialized: s.Progress.Completed, ReportedAt: now}
	if s.Status != StatusCompleted {
		report.Status, report.FailedStep, report.Reason = "failed", s.Progress.FailedStep, s.Progress.Failure
	}
	return []events.Message{report}
}

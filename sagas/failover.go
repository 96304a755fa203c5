package sagas

import (
	"fmt"
	"time"

	"github.com/omninode/omnibase-infra/events"
)

// FailoverState is what a failover remembers between messages.
type FailoverState struct {
	// Target is the adapter id failed over: the saga's subject, once the projection knows it.
	Target string `json:"target,omitempty"`
	// Recovered: the recovery attempt already confirmed the target healthy.
	Recovered bool `json:"recovered,omitempty"`
}

// targets are the targets the failover's commands go to: its one target, once identified.
func (st FailoverState) targets() []string {
	if st.Target == "" {
		return nil
	}
	return []string{st.Target}
}

// Failover isolates a failed target behind its circuit breaker, attempts the adapter's recovery,
// polls until the target is confirmed healthy, and closes the breaker. When the attempts run out,
// the compensation hands the breaker back and the saga escalates with FailoverFailed.
func Failover() Definition[FailoverState] {
	return Definition[FailoverState]{Steps: map[string]Step[FailoverState]{
		"identify_failed_adapter": {Enter: identifyFailed},
		"open_breaker": {Changes: true, What: "the target's circuit breaker", Finish: failoverSucceeded,
			Enter: func(s *Saga[FailoverState], _ View, _ time.Time) ([]events.Command, Outcome) {
				return toEach(s.State.targets(), func(adapter, target string) events.Command {
					return events.OpenBreaker{Adapter: adapter, Target: target, Reason: "failover saga " + s.ID}
				})
			}},
		"attempt_recovery": {Enter: recoverTarget, Finish: recoveryAttempted},
		"poll_recovery":    {Enter: pollRecovery, Finish: recoveryPolled},
		"close_breaker": {Finish: failoverSucceeded,
			Enter: func(s *Saga[FailoverState], _ View, _ time.Time) ([]events.Command, Outcome) {
				return toEach(s.State.targets(), func(adapter, target string) events.Command {
					return events.CloseBreaker{Adapter: adapter, Target: target, Reason: "recovered (failover saga " + s.ID + ")"}
				})
			}},
		"release_breaker": {Compensation: true, Finish: failoverSucceeded,
			Enter: func(s *Saga[FailoverState], _ View, _ time.Time) ([]events.Command, Outcome) {
				return toEach(s.State.targets(), func(adapter, target string) events.Command {
					return events.CloseBreaker{Adapter: adapter, Target: target, Reason: "failover saga " + s.ID + " gave up"}
				})
			}},
	}, Ended: failoverEnded}
}

func failoverSucceeded(s *Saga[FailoverState], replies map[string]Reply, _ bool, _ time.Time) Outcome {
	return allSucceeded(s.State.targets(), replies)
}

func recoverTarget(s *Saga[FailoverState], _ View, _ time.Time) ([]events.Command, Outcome) {
	return toEach(s.State.targets(), func(adapter, target string) events.Command {
		return events.RecoverTarget{Adapter: adapter, Target: target}
	})
}

// identifyFailed finds the saga's subject in the projection. A target that is healthy with its
// breaker closed needs no failover: the saga completes at once (recovery_initiated routes here
// after a recovery the adapters made on their own).
func identifyFailed(s *Saga[FailoverState], v View, _ time.Time) ([]events.Command, Outcome) {
	t, ok := v.Find(s.Subject)
	if !ok {
		return nil, Outcome{Verdict: Fail, Reason: fmt.Sprintf("the projection knows no target %q", s.Subject)}
	}
	s.State.Target = t.ID()
	state := fmt.Sprintf("%s is %s, breaker %s", t.ID(), t.Status, t.Breaker)
	if t.Status == events.StatusHealthy && (t.Breaker == events.BreakerClosed || t.Breaker == "") {
		return nil, Outcome{Verdict: Finish, Reason: state + ": nothing to fail over"}
	}
	return nil, Outcome{Reason: state}
}

// recoveryAttempted: the first recovery attempt either confirms the target or leaves it to the
// polls; it never fails the saga by itself.
func recoveryAttempted(s *Saga[FailoverState], replies map[string]Reply, _ bool, _ time.Time) Outcome {
	if problems := failures(s.State.targets(), replies); len(problems) > 0 {
		return Outcome{Reason: fmt.Sprintf("not recovered yet: %v", problems)}
	}
	s.State.Recovered = true
	return Outcome{Reason: "recovered"}
}

func pollRecovery(s *Saga[FailoverState], v View, now time.Time) ([]events.Command, Outcome) {
	if s.State.Recovered {
		return nil, Outcome{Reason: "already recovered"}
	}
	return recoverTarget(s, v, now)
}

func recoveryPolled(s *Saga[FailoverState], replies map[string]Reply, _ bool, _ time.Time) Outcome {
	if problems := failures(s.State.targets(), replies); len(problems) > 0 {
		return Outcome{Verdict: Again, Reason: fmt.Sprintf("not recovered: %v", problems)}
	}
	s.State.Recovered = true
	return Outcome{Reason: "recovered"}
}

func failoverEnded(s Saga[FailoverState], now time.Time) []events.Message {
	if s.Status != StatusEscalated {
		return nil
	}
	return []events.Message{events.FailoverFailed{SagaID: s.ID, Subject: s.Subject, FailedStep: s.Progress.FailedStep,
		Reason: s.Progress.Failure, Compensated: s.Progress.Undone, EscalatedAt: now}}
}

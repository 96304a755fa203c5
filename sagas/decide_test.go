package sagas_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/sagas"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// run drives one saga through Decide as the engine would, keeping its state between inputs.
type run[S any] struct {
	t     *testing.T
	spec  sagas.WorkflowSpec
	def   sagas.Definition[S]
	view  sagas.View
	now   time.Time
	saga  sagas.Saga[S]
	last  sagas.Decision[S]
	sent  []sagas.Outgoing
	event []events.Message
	log   []string
}

func newRun[S any](t *testing.T, workflow string, def sagas.Definition[S], subject string, view sagas.View) *run[S] {
	contract, err := sagas.DefaultContract()
	require.NoError(t, err)
	return &run[S]{t: t, spec: contract.Workflows[workflow], def: def, view: view, now: t0,
		saga: sagas.Saga[S]{ID: "saga-1", Workflow: workflow, Subject: subject, Version: 1}}
}

func (r *run[S]) apply(in sagas.Input) sagas.Decision[S] {
	d := sagas.Decide(r.spec, r.def, r.saga, in, r.view, r.now)
	r.last = d
	if d.Changed {
		r.saga = d.Saga
		r.saga.Version++
		r.sent = append(r.sent, d.Commands...)
		r.event = append(r.event, d.Events...)
		for _, e := range d.Timeline {
			r.log = append(r.log, e.Step+":"+e.Event)
		}
	}
	return d
}

func (r *run[S]) start() sagas.Decision[S] {
	return r.apply(sagas.Started{Trigger: sagas.Trigger{Intent: "failover_required", IntentID: "intent-1"}, CorrelationID: "corr-1"})
}

// replyAll answers every pending command of the last decision with reply.
func (r *run[S]) replyAll(reply sagas.Reply) {
	for _, c := range r.last.Commands {
		r.apply(sagas.Replied{CommandID: c.ID, Reply: reply})
	}
}

// fire sets the clock to the saga's only timer and fires it.
func (r *run[S]) fire() sagas.Decision[S] {
	require.Len(r.t, r.last.Timers, 1, "one timer set")
	tm := r.last.Timers[0]
	r.now = tm.At
	return r.apply(sagas.Fired{Token: tm.Token, Kind: tm.Kind})
}

var ok = sagas.Reply{Outcome: sagas.ReplySucceeded, Result: json.RawMessage(`{}`)}
var down = sagas.Reply{Outcome: sagas.ReplyFailed, Error: "connection refused"}

func probeReply(healthy bool) sagas.Reply {
	res, _ := json.Marshal(events.ProbeResult{Healthy: healthy, Error: map[bool]string{false: "dial tcp: refused"}[healthy]})
	return sagas.Reply{Outcome: sagas.ReplySucceeded, Result: res}
}

func threeTargets() sagas.View {
	return sagas.View{Targets: []sagas.Target{
		{Adapter: "postgres", Target: "control", Status: events.StatusHealthy, Breaker: events.BreakerClosed},
		{Adapter: "kafka", Target: "main", Status: events.StatusDegraded, Breaker: events.BreakerClosed},
		{Adapter: "consul", Target: "main", Status: events.StatusHealthy, Breaker: events.BreakerClosed},
	}}
}

func kinds(cmds []sagas.Outgoing) []string {
	var out []string
	for _, c := range cmds {
		a, tg := c.Command.Addressee()
		out = append(out, c.Command.Kind().Name+" "+events.AdapterID(a, tg))
	}
	return out
}

func TestHealthCheck_probes_every_target_in_parallel_and_publishes_the_report(t *testing.T) {
	r := newRun(t, "health_check", sagas.HealthCheck(), "kafka/main", threeTargets())
	d := r.start()

	require.Equal(t, "probe_adapters", d.Saga.Step)
	require.ElementsMatch(t, []string{"probe_target consul/main", "probe_target kafka/main", "probe_target postgres/control"}, kinds(d.Commands))
	require.Equal(t, []sagas.Timer{{SagaID: "saga-1", Token: 1, Kind: sagas.TimerTimeout, At: t0.Add(10 * time.Second)}}, d.Timers)

	for _, c := range d.Commands {
		_, target := c.Command.Addressee()
		r.apply(sagas.Replied{CommandID: c.ID, Reply: probeReply(target != "main")})
	}
	require.Equal(t, sagas.StatusCompleted, r.saga.Status)
	require.Len(t, r.event, 1)
	report := r.event[0].(events.InfrastructureHealthReported)
	require.Equal(t, events.StatusDegraded, report.Overall)
	require.Equal(t, []events.TargetHealth{
		{AdapterID: "consul/main", Probe: events.ProbeUnhealthy, State: events.StatusHealthy, Error: "dial tcp: refused"},
		{AdapterID: "kafka/main", Probe: events.ProbeUnhealthy, State: events.StatusDegraded, Error: "dial tcp: refused"},
		{AdapterID: "postgres/control", Probe: events.ProbeHealthy, State: events.StatusHealthy},
	}, report.Targets)
}

func TestHealthCheck_a_target_that_does_not_reply_by_the_deadline_is_unknown(t *testing.T) {
	r := newRun(t, "health_check", sagas.HealthCheck(), "kafka/main", threeTargets())
	d := r.start()
	for _, c := range d.Commands[:2] {
		r.apply(sagas.Replied{CommandID: c.ID, Reply: probeReply(true)})
	}
	require.Equal(t, sagas.StatusRunning, r.saga.Status, "waits for the third")

	r.last = d
	r.fire()
	require.Equal(t, sagas.StatusCompleted, r.saga.Status)
	report := r.event[0].(events.InfrastructureHealthReported)
	require.Equal(t, events.StatusDegraded, report.Overall)
	unknown := 0
	for _, h := range report.Targets {
		if h.Probe == events.ProbeUnknown {
			unknown++
		}
	}
	require.Equal(t, 1, unknown)

	late := r.apply(sagas.Replied{CommandID: d.Commands[2].ID, Reply: probeReply(true)})
	require.False(t, late.Changed, "a reply after the saga moved on changes nothing")
}

func TestHealthCheck_with_no_targets_fails(t *testing.T) {
	r := newRun(t, "health_check", sagas.HealthCheck(), "kafka/main", sagas.View{})
	r.start()
	require.Equal(t, sagas.StatusFailed, r.saga.Status)
	require.Equal(t, "read_state", r.saga.Progress.FailedStep)
	require.Empty(t, r.sent)
}

func TestDecide_a_second_intent_joins_without_sending_anything(t *testing.T) {
	r := newRun(t, "health_check", sagas.HealthCheck(), "kafka/main", threeTargets())
	r.start()
	d := r.apply(sagas.Joined{Trigger: sagas.Trigger{Intent: "infrastructure_health_critical", IntentID: "intent-2"}})
	require.True(t, d.Changed)
	require.Empty(t, d.Commands)
	require.Empty(t, d.Timers)
	require.Len(t, r.saga.Progress.Triggers, 2)
	require.Equal(t, "probe_adapters", r.saga.Step)
}

func TestDecide_stale_and_foreign_inputs_change_nothing(t *testing.T) {
	r := newRun(t, "health_check", sagas.HealthCheck(), "kafka/main", threeTargets())
	r.start()
	require.False(t, r.apply(sagas.Fired{Token: 0, Kind: sagas.TimerTimeout}).Changed, "timer of an earlier wait")
	require.False(t, r.apply(sagas.Replied{CommandID: "not-ours", Reply: ok}).Changed, "reply to a command the step did not send")
	require.False(t, r.apply(sagas.Fired{Token: r.saga.Progress.Token, Kind: "bogus"}).Changed)
}

func failedConsul() sagas.View {
	return sagas.View{Targets: []sagas.Target{{Adapter: "consul", Target: "main", Status: events.StatusCritical, Breaker: events.BreakerOpen}}}
}

func TestFailover_recovers_after_polls_and_closes_the_breaker(t *testing.T) {
	r := newRun(t, "failover", sagas.Failover(), "consul/main", failedConsul())
	d := r.start()
	require.Equal(t, []string{"open_breaker consul/main"}, kinds(d.Commands))

	r.replyAll(ok)
	require.Equal(t, "attempt_recovery", r.saga.Step)
	require.Equal(t, []string{"recover_target consul/main"}, kinds(r.last.Commands))

	r.replyAll(down) // the first attempt does not fail the saga: polling goes on
	require.Equal(t, "poll_recovery", r.saga.Step)
	r.replyAll(down)
	require.Equal(t, sagas.TimerAgain, r.last.Timers[0].Kind)
	require.Equal(t, r.now.Add(5*time.Second), r.last.Timers[0].At, "polls every 5s")

	r.fire()
	require.Equal(t, 2, r.saga.Progress.Attempt)
	r.replyAll(ok)
	require.Equal(t, "close_breaker", r.saga.Step)
	require.Equal(t, []string{"close_breaker consul/main"}, kinds(r.last.Commands))
	r.replyAll(ok)

	require.Equal(t, sagas.StatusCompleted, r.saga.Status)
	require.Empty(t, r.event, "a completed failover escalates nothing")
	require.Equal(t, []string{"identify_failed_adapter", "open_breaker", "attempt_recovery", "poll_recovery", "close_breaker"}, r.saga.Progress.Completed)
}

func TestFailover_when_attempts_run_out_compensates_then_escalates(t *testing.T) {
	r := newRun(t, "failover", sagas.Failover(), "consul/main", failedConsul())
	r.start()
	r.replyAll(ok)   // open_breaker
	r.replyAll(down) // attempt_recovery
	for attempt := 1; attempt <= 12; attempt++ {
		require.Equal(t, "poll_recovery", r.saga.Step)
		require.Equal(t, attempt, r.saga.Progress.Attempt)
		r.replyAll(down)
		if attempt < 12 {
			r.fire()
		}
	}
	require.Equal(t, "release_breaker", r.saga.Step, "the compensation of open_breaker runs")
	require.Equal(t, []string{"close_breaker consul/main"}, kinds(r.last.Commands))
	r.replyAll(ok)

	require.Equal(t, sagas.StatusEscalated, r.saga.Status)
	require.Len(t, r.event, 1)
	escalation := r.event[0].(events.FailoverFailed)
	require.Equal(t, "poll_recovery", escalation.FailedStep)
	require.Contains(t, escalation.Reason, "after 12 attempts")
	require.Equal(t, []string{"release_breaker"}, escalation.Compensated)
}

func TestFailover_a_poll_without_reply_counts_as_not_recovered(t *testing.T) {
	r := newRun(t, "failover", sagas.Failover(), "consul/main", failedConsul())
	r.start()
	r.replyAll(ok)
	r.replyAll(down)
	r.fire() // poll_recovery's timeout: no reply
	require.Equal(t, sagas.TimerAgain, r.last.Timers[0].Kind)
	require.Contains(t, r.log, "poll_recovery:poll_scheduled")
}

func TestFailover_of_a_healthy_target_completes_at_once(t *testing.T) {
	view := sagas.View{Targets: []sagas.Target{{Adapter: "consul", Target: "main", Status: events.StatusHealthy, Breaker: events.BreakerClosed}}}
	r := newRun(t, "failover", sagas.Failover(), "consul/main", view)
	r.start()
	require.Equal(t, sagas.StatusCompleted, r.saga.Status)
	require.Empty(t, r.sent)
}

func TestFailover_retries_a_failed_step_then_goes_on(t *testing.T) {
	r := newRun(t, "failover", sagas.Failover(), "consul/main", failedConsul())
	r.start()
	r.replyAll(down)
	require.Equal(t, "open_breaker", r.saga.Step)
	require.Contains(t, r.log, "open_breaker:retry_scheduled")
	require.Equal(t, r.now.Add(2*time.Second), r.last.Timers[0].At)
	r.fire()
	require.Equal(t, []string{"open_breaker consul/main"}, kinds(r.last.Commands))
	require.NotEqual(t, r.sent[0].ID, r.last.Commands[0].ID, "each attempt is a new command")
	r.replyAll(ok)
	require.Equal(t, "attempt_recovery", r.saga.Step)
}

func TestFailover_a_first_step_failing_for_good_escalates_with_nothing_to_compensate(t *testing.T) {
	r := newRun(t, "failover", sagas.Failover(), "consul/main", failedConsul())
	r.start()
	for i := 0; i < 3; i++ {
		r.replyAll(down)
		if i < 2 {
			r.fire()
		}
	}
	require.Equal(t, sagas.StatusEscalated, r.saga.Status)
	require.Empty(t, r.saga.Progress.Undone, "open_breaker never completed: nothing to undo")
}

func TestInitialization_goes_in_order_and_reports_the_failing_step(t *testing.T) {
	view := sagas.View{Targets: []sagas.Target{
		{Adapter: "postgres", Target: "control", Status: events.StatusHealthy},
		{Adapter: "kafka", Target: "main", Status: events.StatusHealthy},
		{Adapter: "consul", Target: "main", Status: events.StatusHealthy},
	}}
	r := newRun(t, "initialization", sagas.Initialization(), "infrastructure", view)
	d := r.start()
	require.Equal(t, []string{"initialize_target postgres/control"}, kinds(d.Commands))
	r.replyAll(ok)
	require.Equal(t, []string{"initialize_target kafka/main"}, kinds(r.last.Commands))
	r.fire() // kafka never confirms
	require.Equal(t, sagas.StatusFailed, r.saga.Status)
	require.Len(t, r.event, 1)
	report := r.event[0].(events.InitializationReported)
	require.Equal(t, "failed", report.Status)
	require.Equal(t, "init_kafka", report.FailedStep)
	require.Contains(t, report.Reason, "kafka/main: no reply")
	require.Equal(t, []string{"init_postgres"}, report.Initialized)
	for _, c := range r.sent {
		adapter, _ := c.Command.Addressee()
		require.NotEqual(t, "consul", adapter, "consul is not initialized after kafka failed")
	}
}

func TestInitialization_completes_after_verifying_health(t *testing.T) {
	view := sagas.View{Targets: []sagas.Target{
		{Adapter: "postgres", Target: "control"}, {Adapter: "kafka", Target: "main"}, {Adapter: "consul", Target: "main"},
	}}
	r := newRun(t, "initialization", sagas.Initialization(), "infrastructure", view)
	r.start()
	r.replyAll(ok)
	r.replyAll(ok)
	r.replyAll(ok)
	require.Equal(t, "verify_health", r.saga.Step)
	require.Len(t, r.last.Commands, 3)
	for _, c := range r.last.Commands {
		r.apply(sagas.Replied{CommandID: c.ID, Reply: probeReply(true)})
	}
	require.Equal(t, sagas.StatusCompleted, r.saga.Status)
	report := r.event[0].(events.InitializationReported)
	require.Equal(t, "completed", report.Status)
	require.Equal(t, []string{"init_postgres", "init_kafka", "init_consul", "verify_health"}, report.Initialized)
}

func TestInitialization_without_consul_targets_skips_init_consul_and_completes(t *testing.T) {
	view := sagas.View{Targets: []sagas.Target{{Adapter: "postgres", Target: "control"}, {Adapter: "kafka", Target: "main"}}}
	r := newRun(t, "initialization", sagas.Initialization(), "infrastructure", view)
	r.start()
	r.replyAll(ok)
	r.replyAll(ok)
	require.Equal(t, "verify_health", r.saga.Step, "no Consul (the default omni dev): nothing to initialize there")
	require.Len(t, r.last.Commands, 2)
	for _, c := range r.last.Commands {
		r.apply(sagas.Replied{CommandID: c.ID, Reply: probeReply(true)})
	}
	require.Equal(t, sagas.StatusCompleted, r.saga.Status)
}

func TestInitialization_without_kafka_targets_fails_at_init_kafka(t *testing.T) {
	view := sagas.View{Targets: []sagas.Target{{Adapter: "postgres", Target: "control"}}}
	r := newRun(t, "initialization", sagas.Initialization(), "infrastructure", view)
	r.start()
	r.replyAll(ok)
	require.Equal(t, sagas.StatusFailed, r.saga.Status)
	require.Equal(t, "init_kafka", r.saga.Progress.FailedStep)
	require.Contains(t, r.saga.Progress.Failure, "no kafka targets")
}

// A workflow of three steps that change something, each with its own compensation, and a fourth
// that fails: the engine's rule, independent of the built-in workflows.
func TestDecide_a_step_failing_for_good_compensates_the_completed_steps_in_reverse_order(t *testing.T) {
	var compensated []string
	change := func(name string) sagas.Step[struct{}] {
		return sagas.Step[struct{}]{Changes: true, What: name, Enter: func(*sagas.Saga[struct{}], sagas.View, time.Time) ([]events.Command, sagas.Outcome) {
			return nil, sagas.Outcome{Reason: name + " done"}
		}}
	}
	undo := func(name string) sagas.Step[struct{}] {
		return sagas.Step[struct{}]{Compensation: true,
			Enter: func(s *sagas.Saga[struct{}], _ sagas.View, _ time.Time) ([]events.Command, sagas.Outcome) {
				return []events.Command{events.ProbeTarget{Adapter: "postgres", Target: name}}, sagas.Outcome{}
			},
			Finish: func(s *sagas.Saga[struct{}], _ map[string]sagas.Reply, _ bool, _ time.Time) sagas.Outcome {
				compensated = append(compensated, "undo_"+name)
				return sagas.Outcome{}
			}}
	}
	def := sagas.Definition[struct{}]{Steps: map[string]sagas.Step[struct{}]{
		"a": change("a"), "b": change("b"), "c": change("c"), "undo_a": undo("a"), "undo_b": undo("b"), "undo_c": undo("c"),
		"d": {Enter: func(*sagas.Saga[struct{}], sagas.View, time.Time) ([]events.Command, sagas.Outcome) {
			return nil, sagas.Outcome{Verdict: sagas.Fail, Reason: "d cannot"}
		}},
	}}
	spec := sagas.WorkflowSpec{Name: "test", Steps: []sagas.StepSpec{
		{Name: "a", Compensation: "undo_a", Timeout: time.Second}, {Name: "b", Compensation: "undo_b", Timeout: time.Second},
		{Name: "c", Compensation: "undo_c", Timeout: time.Second}, {Name: "d", Timeout: time.Second},
	}}
	r := &run[struct{}]{t: t, spec: spec, def: def, now: t0, saga: sagas.Saga[struct{}]{ID: "saga-2", Workflow: "test", Subject: "x", Version: 1}}
	r.start()
	for i := 0; i < 3; i++ {
		r.replyAll(ok)
	}
	require.Equal(t, []string{"undo_c", "undo_b", "undo_a"}, compensated)
	require.Equal(t, sagas.StatusCompensated, r.saga.Status)
	require.Equal(t, "d", r.saga.Progress.FailedStep)
	require.Equal(t, []string{"undo_c", "undo_b", "undo_a"}, r.saga.Progress.Undone)
}

package sagas

import (
	"fmt"
	"strconv"
	"time"

	"github.com/omninode/omnibase-infra/events"
)

// Verdict is how a step ended.
type Verdict int

const (
	// Next: the step is done; go on to the next one.
	Next Verdict = iota
	// Finish: the step is done and the workflow has nothing left to do.
	Finish
	// Again: not confirmed yet; ask again after the step's poll wait, while attempts remain.
	Again
	// Fail: the step failed; try again after its retry backoff while attempts remain, then
	// compensate.
	Fail
)

// Outcome is a step's verdict, why, and the events it publishes.
type Outcome struct {
	Verdict Verdict
	Reason  string
	Events  []events.Message
}

// Input is what happened to a saga: Started, Joined, Replied or Fired.
type Input interface{ input() }

// Started: an intent started the saga.
type Started struct {
	Trigger       Trigger
	CorrelationID string
}

// Joined: an intent for the subject of a running saga joined it.
type Joined struct{ Trigger Trigger }

// Replied: an adapter answered a command the saga sent.
type Replied struct {
	CommandID string
	Reply     Reply
}

// Fired: a timer the saga set went off.
type Fired struct {
	Token int
	Kind  TimerKind
}

func (Started) input() {}
func (Joined) input()  {}
func (Replied) input() {}
func (Fired) input()   {}

// TimerKind is what a timer does when it fires.
type TimerKind string

// Timer kinds.
const (
	// TimerTimeout ends a wait for replies.
	TimerTimeout TimerKind = "timeout"
	// TimerAgain starts the next attempt of a step (a retry or a poll).
	TimerAgain TimerKind = "again"
)

// Timer is a delayed message the saga sets.
type Timer struct {
	SagaID string    `json:"saga_id"`
	Token  int       `json:"token"`
	Kind   TimerKind `json:"kind"`
	At     time.Time `json:"at"`
}

// Outgoing is a command the saga sends, with the id its reply will name.
type Outgoing struct {
	ID      string
	Command events.Command
}

// Entry is one line of a saga's timeline.
type Entry struct {
	Step  string
	Event string
	Note  Note
}

// Note is what a timeline entry says.
type Note struct {
	Attempt   int          `json:"attempt,omitempty"`
	Intent    string       `json:"intent,omitempty"`
	IntentID  string       `json:"intent_id,omitempty"`
	CommandID string       `json:"command_id,omitempty"`
	AdapterID string       `json:"adapter_id,omitempty"`
	Command   string       `json:"command,omitempty"`
	Outcome   ReplyOutcome `json:"outcome,omitempty"`
	Reason    string       `json:"reason,omitempty"`
	Until     *time.Time   `json:"until,omitempty"`
}

// Decision is everything a saga does in answer to one input; the engine stores it in one
// transaction.
type Decision[S any] struct {
	Saga Saga[S]
	// Changed is false when the input was stale (an old timer, a late reply): nothing to store.
	Changed  bool
	Commands []Outgoing
	Events   []events.Message
	Timers   []Timer
	Timeline []Entry
}

// Decide is the saga engine's pure core: what saga s of workflow w does when in happens.
func Decide[S any](w WorkflowSpec, def Definition[S], s Saga[S], in Input, v View, now time.Time) Decision[S] {
	x := &decider[S]{w: w, def: def, v: v, now: now, d: Decision[S]{Saga: s, Changed: true}}
	x.s = &x.d.Saga
	switch in := in.(type) {
	case Started:
		x.s.Status = StatusRunning
		x.s.Progress.CorrelationID = in.CorrelationID
		x.s.Progress.Triggers = append(x.s.Progress.Triggers, in.Trigger)
		x.log(w.Steps[0].Name, "started", Note{Intent: in.Trigger.Intent, IntentID: in.Trigger.IntentID, Reason: in.Trigger.Reason})
		x.enter(0, 1)
	case Joined:
		x.s.Progress.Triggers = append(x.s.Progress.Triggers, in.Trigger)
		x.log(x.s.Step, "joined", Note{Intent: in.Trigger.Intent, IntentID: in.Trigger.IntentID, Reason: in.Trigger.Reason})
	case Replied:
		adapterID, ok := x.s.Progress.Pending[in.CommandID]
		if x.s.Status != StatusRunning || !ok {
			return Decision[S]{Saga: s}
		}
		delete(x.s.Progress.Pending, in.CommandID)
		if x.s.Progress.Replies == nil {
			x.s.Progress.Replies = map[string]Reply{}
		}
		x.s.Progress.Replies[adapterID] = in.Reply
		x.log(x.s.Step, "reply", Note{CommandID: in.CommandID, AdapterID: adapterID, Outcome: in.Reply.Outcome, Reason: in.Reply.Error})
		if len(x.s.Progress.Pending) == 0 {
			x.finish(false)
		}
	case Fired:
		if x.s.Status != StatusRunning || in.Token != x.s.Progress.Token {
			return Decision[S]{Saga: s}
		}
		switch in.Kind {
		case TimerTimeout:
			if len(x.s.Progress.Pending) == 0 {
				return Decision[S]{Saga: s}
			}
			var missing []string
			for _, a := range x.s.Progress.Pending {
				missing = append(missing, a)
			}
			x.log(x.s.Step, "timed_out", Note{Reason: fmt.Sprintf("no reply from %v", missing)})
			x.s.Progress.Pending = nil
			x.finish(true)
		case TimerAgain:
			x.enter(x.s.Progress.Index, x.s.Progress.Attempt+1)
		default:
			return Decision[S]{Saga: s}
		}
	}
	return x.d
}

type decider[S any] struct {
	w   WorkflowSpec
	def Definition[S]
	v   View
	now time.Time
	s   *Saga[S]
	d   Decision[S]
}

func (x *decider[S]) log(step, event string, n Note) {
	x.d.Timeline = append(x.d.Timeline, Entry{Step: step, Event: event, Note: n})
}

// spec is the contract's step the saga is at; while compensating, the step being undone.
func (x *decider[S]) spec() StepSpec {
	data := &x.s.Progress
	if data.Compensating {
		name := data.Done[len(data.Done)-1-len(data.Undone)]
		return x.w.Steps[x.w.index(name)]
	}
	return x.w.Steps[data.Index]
}

// wait starts a new wait: timers of earlier waits become stale.
func (x *decider[S]) wait(kind TimerKind, after time.Duration) time.Time {
	data := &x.s.Progress
	data.Token++
	at := x.now.Add(after)
	data.Deadline = &at
	x.d.Timers = append(x.d.Timers, Timer{SagaID: x.s.ID, Token: data.Token, Kind: kind, At: at})
	return at
}

// enter arrives at step index i (or, while compensating, at the current compensation).
func (x *decider[S]) enter(i, attempt int) {
	data := &x.s.Progress
	data.Index, data.Attempt = i, attempt
	data.Pending, data.Replies, data.Deadline = nil, nil, nil
	spec := x.spec()
	x.s.Step = spec.Name
	if data.Compensating {
		x.s.Step = spec.Compensation
	}
	x.log(x.s.Step, "entered", Note{Attempt: attempt})
	cmds, out := x.def.Steps[x.s.Step].Enter(x.s, x.v, x.now)
	if len(cmds) == 0 {
		x.handle(out)
		return
	}
	at := x.wait(TimerTimeout, spec.Timeout)
	data.Pending = map[string]string{}
	for _, c := range cmds {
		adapter, target := c.Addressee()
		adapterID := events.AdapterID(adapter, target)
		id := derivedID(x.s.ID, strconv.Itoa(data.Token), adapterID, c.Kind().String())
		data.Pending[id] = adapterID
		x.d.Commands = append(x.d.Commands, Outgoing{ID: id, Command: c})
		x.log(x.s.Step, "command_sent", Note{CommandID: id, AdapterID: adapterID, Command: c.Kind().String(), Until: &at})
	}
}

func (x *decider[S]) finish(timedOut bool) {
	replies := x.s.Progress.Replies
	if replies == nil {
		replies = map[string]Reply{}
	}
	x.handle(x.def.Steps[x.s.Step].Finish(x.s, replies, timedOut, x.now))
}

// handle applies a step's outcome.
func (x *decider[S]) handle(out Outcome) {
	data := &x.s.Progress
	x.d.Events = append(x.d.Events, out.Events...)
	spec := x.spec()
	if data.Compensating {
		event := "compensated"
		if out.Verdict != Next && out.Verdict != Finish {
			event = "compensation_failed"
		}
		x.log(x.s.Step, event, Note{Reason: out.Reason})
		data.Undone = append(data.Undone, x.s.Step)
		x.compensate()
		return
	}
	switch out.Verdict {
	case Next, Finish:
		x.log(x.s.Step, "step_done", Note{Reason: out.Reason})
		data.Completed = append(data.Completed, spec.Name)
		if spec.Compensation != "" {
			data.Done = append(data.Done, spec.Name)
		}
		next := x.w.next(data.Index)
		if out.Verdict == Finish || next < 0 {
			x.end(StatusCompleted, "")
			return
		}
		x.enter(next, 1)
	case Again:
		if data.Attempt < spec.Poll.Attempts {
			at := x.wait(TimerAgain, spec.Poll.Wait)
			x.log(x.s.Step, "poll_scheduled", Note{Attempt: data.Attempt, Reason: out.Reason, Until: &at})
			return
		}
		x.fail(fmt.Sprintf("%s (after %d attempts)", out.Reason, data.Attempt))
	case Fail:
		if data.Attempt < spec.Retry.Attempts {
			at := x.wait(TimerAgain, spec.Retry.Wait)
			x.log(x.s.Step, "retry_scheduled", Note{Attempt: data.Attempt, Reason: out.Reason, Until: &at})
			return
		}
		x.fail(out.Reason)
	}
}

// fail ends the forward steps: the completed steps are compensated in reverse order.
func (x *decider[S]) fail(reason string) {
	data := &x.s.Progress
	data.FailedStep, data.Failure = x.s.Step, reason
	x.log(x.s.Step, "step_failed", Note{Reason: reason})
	data.Compensating = true
	x.compensate()
}

// compensate runs the next compensation, or ends the saga when none is left.
func (x *decider[S]) compensate() {
	data := &x.s.Progress
	if len(data.Undone) < len(data.Done) {
		x.enter(data.Index, 1)
		return
	}
	switch {
	case x.w.Escalate:
		x.end(StatusEscalated, data.Failure)
	case len(data.Done) > 0:
		x.end(StatusCompensated, data.Failure)
	default:
		x.end(StatusFailed, data.Failure)
	}
}

func (x *decider[S]) end(status Status, reason string) {
	data := &x.s.Progress
	x.s.Status = status
	data.Pending, data.Deadline = nil, nil
	x.log(x.s.Step, string(status), Note{Reason: reason})
	if x.def.Ended != nil {
		x.d.Events = append(x.d.Events, x.def.Ended(*x.s, x.now)...)
	}
}

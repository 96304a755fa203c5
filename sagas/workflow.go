package sagas

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/omninode/omnibase-infra/events"
)

// Definition is what the engine knows of a workflow whose sagas keep state S: what each of its
// steps and compensations does. The contract orders the steps and sets their timeouts and policies.
type Definition[S any] struct {
	Steps map[string]Step[S]
	// Ended returns the events a saga publishes when it ends, whatever its terminal status.
	Ended func(s Saga[S], now time.Time) []events.Message
}

// Step is what one step or compensation does. The engine calls Enter when the saga arrives at it.
// When Enter sends commands, the saga waits for their replies or the step's timeout, then calls
// Finish; when it sends none, its Outcome is the step's outcome at once. Both are pure, and change
// only s.State.
type Step[S any] struct {
	// Compensation marks an action that undoes a step; a step's compensation names it.
	Compensation bool
	// Changes marks a step that changes something outside the saga (What says what): the contract
	// must give it a compensation.
	Changes bool
	What    string
	Enter   func(s *Saga[S], v View, now time.Time) ([]events.Command, Outcome)
	// Finish decides from the replies, by adapter id; when timedOut, the ones missing never came.
	Finish func(s *Saga[S], replies map[string]Reply, timedOut bool, now time.Time) Outcome
}

// StepInfo is what the contract checks of a step: whether it is a compensation, and whether it
// changes something (What) and so needs one.
type StepInfo struct {
	Compensation bool
	Changes      bool
	What         string
}

// Workflow is a workflow's Definition with its state type erased: the engine keeps one per
// workflow name and holds every saga's state encoded, so one engine and one store serve every
// workflow while each workflow's steps see only their own typed state.
type Workflow interface {
	// Step describes the workflow's step (or compensation) name.
	Step(name string) (StepInfo, bool)
	// StepNames lists the workflow's steps or, with compensations, its compensations, sorted.
	StepNames(compensations bool) []string
	// Decide is Decide on a saga whose state is encoded: the state is decoded into the
	// workflow's own type, and the decided saga's state encoded back.
	Decide(w WorkflowSpec, s Saga[json.RawMessage], in Input, v View, now time.Time) (Decision[json.RawMessage], error)
}

// Workflows returns the workflows this engine runs, by name.
func Workflows() map[string]Workflow {
	return map[string]Workflow{
		"health_check":   HealthCheck(),
		"failover":       Failover(),
		"initialization": Initialization(),
	}
}

// Step implements Workflow.
func (d Definition[S]) Step(name string) (StepInfo, bool) {
	s, ok := d.Steps[name]
	return StepInfo{Compensation: s.Compensation, Changes: s.Changes, What: s.What}, ok
}

// StepNames implements Workflow.
func (d Definition[S]) StepNames(compensations bool) []string {
	var out []string
	for _, name := range sortedKeys(d.Steps) {
		if d.Steps[name].Compensation == compensations {
			out = append(out, name)
		}
	}
	return out
}

// Decide implements Workflow.
func (d Definition[S]) Decide(w WorkflowSpec, s Saga[json.RawMessage], in Input, v View, now time.Time) (Decision[json.RawMessage], error) {
	var state S
	if len(s.State) > 0 {
		if err := events.DecodeStrict(s.State, &state); err != nil {
			return Decision[json.RawMessage]{}, fmt.Errorf("%w: %s saga %s has an unreadable state: %w", events.ErrRejected, s.Workflow, s.ID, err)
		}
	}
	typed := Decide(w, d, withState(s, state), in, v, now)
	raw, err := json.Marshal(typed.Saga.State)
	if err != nil {
		return Decision[json.RawMessage]{}, fmt.Errorf("could not encode the state of %s saga %s: %w", s.Workflow, s.ID, err)
	}
	return Decision[json.RawMessage]{Saga: withState(typed.Saga, json.RawMessage(raw)), Changed: typed.Changed,
		Commands: typed.Commands, Events: typed.Events, Timers: typed.Timers, Timeline: typed.Timeline}, nil
}

package sagas

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/omninode/omnibase-infra/events"
)

// Status is where a saga is: running, or how it ended. It is saga_instances.status.
type Status string

// Saga statuses. Running is the only one that is not terminal.
const (
	StatusRunning     Status = "running"
	StatusCompleted   Status = "completed"
	StatusFailed      Status = "failed"
	StatusCompensated Status = "compensated"
	StatusEscalated   Status = "escalated"
)

// Statuses lists every status, running first.
func Statuses() []Status {
	return []Status{StatusRunning, StatusCompleted, StatusFailed, StatusCompensated, StatusEscalated}
}

// Known reports whether s is one of Statuses: a status given on a command line may not be.
func (s Status) Known() bool { return slices.Contains(Statuses(), s) }

// Saga is one saga instance as the decisions see it: saga_instances' row, the engine's Progress,
// and State, what its workflow's own steps remember (HealthCheckState, FailoverState or
// InitializationState). The engine, which serves every workflow, holds sagas with their state
// still encoded: Saga[json.RawMessage].
type Saga[S any] struct {
	ID       string
	Workflow string
	// Subject is the correlation key: at most one running saga per workflow and subject.
	Subject string
	Status  Status
	// Step is the name of the step (or compensation) the saga is at.
	Step     string
	Version  int64
	Progress Progress
	State    S
}

// withState returns s holding state in place of its own.
func withState[S, T any](s Saga[S], state T) Saga[T] {
	return Saga[T]{ID: s.ID, Workflow: s.Workflow, Subject: s.Subject, Status: s.Status, Step: s.Step,
		Version: s.Version, Progress: s.Progress, State: state}
}

// Progress is where the engine is in a saga's workflow, whatever the workflow: the same fields
// for every saga.
type Progress struct {
	// CorrelationID of the intent that started the saga; every message the saga sends carries it.
	CorrelationID string    `json:"correlation_id"`
	Triggers      []Trigger `json:"triggers"`

	// Index of the current step in the workflow.
	Index int `json:"index"`
	// Attempt of the current step: retries and polls count up from 1.
	Attempt int `json:"attempt"`
	// Token names the current wait: it changes whenever the saga starts waiting, and a timer
	// whose token is not the current one is stale.
	Token int `json:"token"`
	// Deadline of the current wait, if any.
	Deadline *time.Time `json:"deadline,omitempty"`
	// Pending maps each command of the current step without a reply yet to its adapter id.
	Pending map[string]string `json:"pending,omitempty"`
	// Replies of the current step, by adapter id.
	Replies map[string]Reply `json:"replies,omitempty"`

	// Done lists the completed steps that have a compensation, in order.
	Done []string `json:"done,omitempty"`
	// Compensating is set once a step failed for good; Undone lists the compensations already
	// run (they run in reverse order of Done).
	Compensating bool     `json:"compensating,omitempty"`
	Undone       []string `json:"undone,omitempty"`
	FailedStep   string   `json:"failed_step,omitempty"`
	Failure      string   `json:"failure,omitempty"`

	// Completed lists every step completed, in order.
	Completed []string `json:"completed,omitempty"`
}

// Record is saga_instances.data: the engine's Progress at the top level and, under "state", the
// workflow's own state in the workflow's own shape. Migration 00008 moved the workflows' fields
// there from the top level, where every workflow's fields used to mix with the engine's.
type Record struct {
	Progress
	State json.RawMessage `json:"state,omitempty"`
}

// Trigger is an intent that started or joined a saga.
type Trigger struct {
	Intent   string    `json:"intent"`
	IntentID string    `json:"intent_id"`
	Reason   string    `json:"reason"`
	RaisedAt time.Time `json:"raised_at"`
}

// ReplyOutcome is how an adapter answered a command: the outcome event it published.
type ReplyOutcome string

// Reply outcomes: command_succeeded, command_failed and command_rejected.
const (
	ReplySucceeded ReplyOutcome = "succeeded"
	ReplyFailed    ReplyOutcome = "failed"
	ReplyRejected  ReplyOutcome = "rejected"
)

// Reply is an adapter's answer to a command a saga sent. Result is the command's own result
// (events.DecodeResult reads it as the command's result type).
type Reply struct {
	Outcome ReplyOutcome    `json:"outcome"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// derivedID is a UUID-shaped id derived from parts, so a decision made twice names its messages
// the same way.
func derivedID(parts ...string) string { return events.DerivedID(parts...) }

package events

import (
	"encoding/json"
	"time"
)

// CommandSucceeded is recorded when an adapter executed a command. Its causation id is the
// command's id.
type CommandSucceeded struct {
	CommandID string `json:"command_id"`
	// Command is the command's kind, e.g. "postgres_query/v1".
	Command   string `json:"command"`
	AdapterID string `json:"adapter_id"`
	// Result is the command's own result; each command documents its shape.
	Result json.RawMessage `json:"result"`
	// Attempts it took, retries of transient errors included.
	Attempts       int       `json:"attempts"`
	DurationMicros int64     `json:"duration_us"`
	CompletedAt    time.Time `json:"completed_at"`
}

func (CommandSucceeded) Kind() Kind    { return Kind{Name: "command_succeeded", Version: 1} }
func (e CommandSucceeded) Key() string { return e.AdapterID }
func (e CommandSucceeded) Validate() error {
	var f fields
	f.text("command_id", e.CommandID)
	f.text("command", e.Command)
	f.text("adapter_id", e.AdapterID)
	f.positive("attempts", int64(e.Attempts))
	f.nonNegative("duration_us", e.DurationMicros)
	f.time("completed_at", e.CompletedAt)
	return f.err()
}

// CommandFailed is recorded when an adapter tried a command and it did not succeed: the target
// refused it, it timed out, the transient errors outlasted the retries, or the circuit breaker
// was open. The command is not retried after this event.
type CommandFailed struct {
	CommandID string `json:"command_id"`
	Command   string `json:"command"`
	AdapterID string `json:"adapter_id"`
	Error     string `json:"error"`
	// Transient is true when the last error was of a kind that may go away (connection refused,
	// timeout, breaker open): the same command sent again later may succeed.
	Transient      bool      `json:"transient"`
	Attempts       int       `json:"attempts"`
	DurationMicros int64     `json:"duration_us"`
	FailedAt       time.Time `json:"failed_at"`
}

func (CommandFailed) Kind() Kind    { return Kind{Name: "command_failed", Version: 1} }
func (e CommandFailed) Key() string { return e.AdapterID }
func (e CommandFailed) Validate() error {
	var f fields
	f.text("command_id", e.CommandID)
	f.text("command", e.Command)
	f.text("adapter_id", e.AdapterID)
	f.text("error", e.Error)
	f.nonNegative("attempts", int64(e.Attempts))
	f.nonNegative("duration_us", e.DurationMicros)
	f.time("failed_at", e.FailedAt)
	return f.err()
}

// CommandRejected is recorded when an adapter receives a command it can never execute: unknown
// type or version, invalid or missing fields, too large, or for a target it does not have. The
// message also goes to the adapter's poison topic with the same reason.
type CommandRejected struct {
	CommandID string `json:"command_id"`
	// Command is the kind the message claimed to be, when it said.
	Command string `json:"command,omitempty"`
	Adapter string `json:"adapter"`
	// Target, when the command could be read far enough to name one.
	Target     string    `json:"target,omitempty"`
	Reason     string    `json:"reason"`
	RejectedAt time.Time `json:"rejected_at"`
	// RetryAfterMillis is, for a command refused by a rate limit, how long after RejectedAt the
	// limit has room again, in milliseconds. Absent for every other rejection, and for a limit
	// of zero (nothing is ever admitted). Optional, so version 1 still reads as before.
	RetryAfterMillis int64 `json:"retry_after_ms,omitempty"`
}

func (CommandRejected) Kind() Kind { return Kind{Name: "command_rejected", Version: 1} }
func (e CommandRejected) Key() string {
	if e.Target != "" {
		return AdapterID(e.Adapter, e.Target)
	}
	return e.Adapter
}
func (e CommandRejected) Validate() error {
	var f fields
	f.text("command_id", e.CommandID)
	f.oneOf("adapter", e.Adapter, adapterNames...)
	f.text("reason", e.Reason)
	f.time("rejected_at", e.RejectedAt)
	f.nonNegative("retry_after_ms", e.RetryAfterMillis)
	return f.err()
}

// ConsulKVChanged is recorded by the Consul adapter's watch when a watched key is created,
// changed or deleted.
type ConsulKVChanged struct {
	AdapterID   string    `json:"adapter_id"`
	KVKey       string    `json:"key"`
	Value       string    `json:"value,omitempty"`
	Deleted     bool      `json:"deleted,omitempty"`
	ModifyIndex uint64    `json:"modify_index"`
	ObservedAt  time.Time `json:"observed_at"`
}

func (ConsulKVChanged) Kind() Kind    { return Kind{Name: "consul_kv_changed", Version: 1} }
func (e ConsulKVChanged) Key() string { return e.AdapterID }
func (e ConsulKVChanged) Validate() error {
	var f fields
	f.text("adapter_id", e.AdapterID)
	f.text("key", e.KVKey)
	f.time("observed_at", e.ObservedAt)
	return f.err()
}

// ServiceInstance is one instance of a service as Consul's health API reports it.
type ServiceInstance struct {
	ServiceID string `json:"service_id"`
	Node      string `json:"node"`
	Address   string `json:"address,omitempty"`
	Port      int    `json:"port,omitempty"`
	// Status is the worst of the instance's checks: passing, warning or critical.
	Status string `json:"status"`
}

// ConsulServiceChanged is recorded by the Consul adapter's watch when a watched service's
// instances or their health change. Instances is the whole new list.
type ConsulServiceChanged struct {
	AdapterID  string            `json:"adapter_id"`
	Service    string            `json:"service"`
	Instances  []ServiceInstance `json:"instances"`
	ObservedAt time.Time         `json:"observed_at"`
}

func (ConsulServiceChanged) Kind() Kind    { return Kind{Name: "consul_service_changed", Version: 1} }
func (e ConsulServiceChanged) Key() string { return e.AdapterID }
func (e ConsulServiceChanged) Validate() error {
	var f fields
	f.text("adapter_id", e.AdapterID)
	f.text("service", e.Service)
	f.time("observed_at", e.ObservedAt)
	return f.err()
}

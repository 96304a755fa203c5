package events

// The control commands act on an adapter target itself rather than on what it stores: the
// orchestrator's failover and initialization workflows send them. Every adapter takes all four;
// the runner (handlers/effect) handles them around the adapter's driver.

// OpenBreaker forces the target's circuit breaker open: until a CloseBreaker, every command but
// the control commands and probe_target fails at once without reaching the target. Scheduled
// probes keep running, so a recovery shows. Opening a breaker already forced open changes
// nothing. Its result is {"state": "open", "was": "<state before>"}.
type OpenBreaker struct {
	Adapter string `json:"adapter"`
	Target  string `json:"target"`
	// Reason is said in the error of every command refused while forced open.
	Reason string `json:"reason,omitempty"`
}

func (OpenBreaker) Kind() Kind                            { return Kind{Name: "open_breaker", Version: 1} }
func (c OpenBreaker) Key() string                         { return AdapterID(c.Adapter, c.Target) }
func (c OpenBreaker) Addressee() (adapter, target string) { return c.Adapter, c.Target }
func (c OpenBreaker) Validate() error                     { return validateAddressee(c.Adapter, c.Target) }

// CloseBreaker lifts a forced open and resets the target's circuit breaker to closed, its
// failure counts at zero. Closing a closed breaker changes nothing. Its result is
// {"state": "closed", "was": "<state before>"}.
type CloseBreaker struct {
	Adapter string `json:"adapter"`
	Target  string `json:"target"`
	Reason  string `json:"reason,omitempty"`
}

func (CloseBreaker) Kind() Kind                            { return Kind{Name: "close_breaker", Version: 1} }
func (c CloseBreaker) Key() string                         { return AdapterID(c.Adapter, c.Target) }
func (c CloseBreaker) Addressee() (adapter, target string) { return c.Adapter, c.Target }
func (c CloseBreaker) Validate() error                     { return validateAddressee(c.Adapter, c.Target) }

// RecoverTarget runs the adapter's own recovery of the target (PostgreSQL: a fresh connection
// pool; Kafka: fresh metadata and producers; Consul: the services the adapter registered,
// registered again), then probes it. It succeeds only when that probe is healthy; neither the
// breaker nor a forced open holds it back, and it does not count against the breaker. Its result
// is {"recovered": true, "actions": ["...", ...]}.
type RecoverTarget struct {
	Adapter string `json:"adapter"`
	Target  string `json:"target"`
}

func (RecoverTarget) Kind() Kind                            { return Kind{Name: "recover_target", Version: 1} }
func (c RecoverTarget) Key() string                         { return AdapterID(c.Adapter, c.Target) }
func (c RecoverTarget) Addressee() (adapter, target string) { return c.Adapter, c.Target }
func (c RecoverTarget) Validate() error                     { return validateAddressee(c.Adapter, c.Target) }

// InitializeTarget connects to the target and checks that it is ready to serve, like any other
// command (timeout, retries, breaker; a forced open does not hold it back). Its result is a
// string map each adapter documents: PostgreSQL {"server_version", "in_recovery"}, Kafka
// {"brokers", "controller_id"}, Consul {"datacenter", "leader"}.
type InitializeTarget struct {
	Adapter string `json:"adapter"`
	Target  string `json:"target"`
}

func (InitializeTarget) Kind() Kind                            { return Kind{Name: "initialize_target", Version: 1} }
func (c InitializeTarget) Key() string                         { return AdapterID(c.Adapter, c.Target) }
func (c InitializeTarget) Addressee() (adapter, target string) { return c.Adapter, c.Target }
func (c InitializeTarget) Validate() error                     { return validateAddressee(c.Adapter, c.Target) }

// IsControl reports whether cmd is one of the commands a breaker forced open lets through:
// probe_target and the four control commands.
func IsControl(cmd Command) bool {
	switch cmd.(type) {
	case ProbeTarget, OpenBreaker, CloseBreaker, RecoverTarget, InitializeTarget:
		return true
	}
	return false
}

func validateAddressee(adapter, target string) error {
	var f fields
	f.oneOf("adapter", adapter, adapterNames...)
	f.text("target", target)
	return f.err()
}

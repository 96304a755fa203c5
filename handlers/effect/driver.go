// Package effect is what the three adapters share: the Watermill handler of an adapter's command
// topic and its probe schedule, a circuit breaker per target whose every state change is an
// event, retries with backoff and jitter for transient errors only, a timeout per command,
// deduplication of redelivered commands, rejection of bad ones, and the recording of every
// outcome through the outbox. An adapter package only says how to talk to its system: a Driver.
package effect

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/omninode/omnibase-infra/events"
)

// Driver does one adapter's effects against its real system.
type Driver interface {
	// Adapter is the adapter's name, one of events.Adapter*.
	Adapter() string
	// Targets are the names of the configured targets.
	Targets() []string
	// Commands are prototypes of the commands Execute takes (probe_target and the control
	// commands are the Adapter's own: see events.IsControl).
	Commands() []events.Command
	// Execute performs cmd against target and returns its result, which is recorded as JSON in
	// the CommandSucceeded event. It is called with the command's timeout in ctx.
	Execute(ctx context.Context, target string, cmd events.Command) (events.Result, error)
	// Probe checks target. An error means the target is unhealthy; Health is recorded either way.
	Probe(ctx context.Context, target string) (Health, error)
	// Transient reports whether err may go away by itself (connection refused, timeouts, a
	// broker without a leader): only those are retried, and only those count against the
	// target's circuit breaker.
	Transient(err error) bool
	// Close waits for the calls in flight (Execute, Probe, Initialize, Recover) to return, then
	// releases the driver's connections: a command already sent to the server gets its answer
	// recorded rather than cut off. Calls made after Close fail at once with an error wrapping
	// ErrDriverClosed. Close may be called more than once.
	Close()
}

// ErrDriverClosed is wrapped by the error of every call a driver refuses because Close was called.
var ErrDriverClosed = errors.New("driver closed")

// Retrier is implemented by drivers for which a transient error does not always mean the effect
// did not happen: a connection lost while a statement was in flight may go away by itself (so it
// counts against the breaker) and yet the statement may have been applied. The runner retries a
// transient error only when Retryable says a new try cannot apply the effect twice.
type Retrier interface {
	Retryable(cmd events.Command, err error) bool
}

// Recoverer is implemented by drivers that can do something to bring a target back besides
// waiting: recover_target calls Recover, then probes the target. Recover returns what it did, in
// words, even when it fails part-way.
type Recoverer interface {
	Recover(ctx context.Context, target string) (actions []string, err error)
}

// Initializer is implemented by drivers that take initialize_target: Initialize connects to
// target and checks that it is ready to serve. Its result is recorded as the command's (each
// driver has its own type in events: PostgresInitialized, KafkaInitialized, ConsulInitialized).
// It runs as any command does, with retries and through the breaker.
type Initializer interface {
	Initialize(ctx context.Context, target string) (events.Result, error)
}

// Health is what a probe saw besides success or failure.
type Health struct {
	// Details go into AdapterHealthReported.Details.
	Details map[string]string
	// Events are recorded with the health report (for example pool statistics).
	Events []events.Message
}

// Watcher is implemented by drivers that watch their system and record what changes. Watch runs
// until ctx ends.
type Watcher interface {
	Watch(ctx context.Context, rec Recorder) error
}

// Recorder records events through the outbox.
type Recorder interface {
	Record(ctx context.Context, origin events.Origin, msgs ...events.Message) error
}

type commandIDKey struct{}

// CommandID is the id of the command being executed, in the context Execute is called with; a
// driver whose effect cannot be made idempotent hands it on (the Kafka adapter sets it as a record
// header) so that consumers can deduplicate.
func CommandID(ctx context.Context) string {
	id, _ := ctx.Value(commandIDKey{}).(string)
	return id
}

// CheckTargetNames reports what is wrong with an adapter's target names: there are none, one is
// empty, one holds "/" (adapter ids are "<adapter>/<target>"), or one is given twice. Each
// adapter's config validation starts here.
func CheckTargetNames(adapter string, names []string) []error {
	if len(names) == 0 {
		return []error{fmt.Errorf("%s adapter: no targets", adapter)}
	}
	var errs []error
	seen := map[string]bool{}
	for i, name := range names {
		switch {
		case name == "":
			errs = append(errs, fmt.Errorf("%s adapter: target %d has no name", adapter, i))
		case strings.Contains(name, "/"):
			errs = append(errs, fmt.Errorf("%s target %q: the name contains \"/\"", adapter, name))
		case seen[name]:
			errs = append(errs, fmt.Errorf("%s target %q: given twice", adapter, name))
		}
		seen[name] = true
	}
	return errs
}

// Calls counts a driver's calls in flight so that its Close can wait for them, and refuses the
// calls that come after Close. The zero value is ready; a driver embeds or holds one.
type Calls struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// Enter counts a call in flight; done must be called when it is over. After Close it returns
// closedErr (which should wrap ErrDriverClosed) and counts nothing.
func (c *Calls) Enter(closedErr error) (done func(), err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, closedErr
	}
	c.wg.Add(1) // under the lock, so never while Close waits
	return c.wg.Done, nil
}

// Close refuses every call from now on and waits for those in flight. It may be called more
// than once.
func (c *Calls) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.wg.Wait()
}

// Rememberer is implemented by drivers that keep something about their targets beyond one process
// (the Consul adapter: the services to register again on recovery). Remember is called with each
// command that succeeded, in the transaction that records its outcome, so that what is remembered
// never contradicts what was recorded; a new owner of the target, or a restarted process, reads it
// back with Memory.
type Rememberer interface {
	Remember(ctx context.Context, m Memory, cmd events.Command) error
}

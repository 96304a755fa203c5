// Package consul is the Consul adapter's driver: KV operations, service registration and TTL
// checks against its target agents, watches through blocking queries, and probes.
// handlers/effect runs it.
package consul

import (
	"errors"
	"fmt"
	"github.com/omninode/omnibase-infra/handlers/effect"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/platform/tlspolicy"
	"strings"
	"time"
)

// Target is one Consul agent the adapter acts on.
type Target struct {
	// Name identifies the target in events ("consul/<Name>"). Required; no "/" in it.
	Name string
	// Addr of the agent's HTTP API, HOST:PORT or a URL. Required.
	Addr string
}

// Watch is what the adapter watches on every target through blocking queries, recording each
// change as an event.
type Watch struct {
	// KeyPrefixes whose keys are watched (ConsulKVChanged). "" watches the whole store.
	KeyPrefixes []string
	// Services whose instances and health are watched (ConsulServiceChanged).
	Services []string
}

// Config configures a Driver.
type Config struct {
	// Targets. Required, at least one.
	Targets []Target
	// TLSPolicy makes the TLS of every https:// target. Default tlspolicy.Default().
	TLSPolicy *tlspolicy.Policy
	// Watch is what to watch on every target. Default: nothing.
	Watch Watch
	// WatchWait is how long one blocking query waits for a change before Consul answers anyway.
	// Default 5m; at most 10m (Consul's limit).
	WatchWait time.Duration
	// WatchRetryMin is the first wait after a watch query failed (the agent is down); the wait
	// doubles with each failure in a row up to WatchRetryMax. Defaults 1s and 30s.
	WatchRetryMin time.Duration
	WatchRetryMax time.Duration
	// Memory is the control database, where the adapter remembers the services it registered
	// (see Driver.Remember): recover_target registers them again. Without it recover_target
	// registers nothing again.
	Memory pgtx.Querier
}

func (c *Config) setDefaults() {
	if c.WatchWait == 0 {
		c.WatchWait = 5 * time.Minute
	}
	if c.WatchRetryMin == 0 {
		c.WatchRetryMin = time.Second
	}
	if c.WatchRetryMax == 0 {
		c.WatchRetryMax = 30 * time.Second
	}
}

// Validate reports every problem of the configuration.
func (c Config) Validate() error {
	var errs []error
	names := make([]string, len(c.Targets))
	for i, t := range c.Targets {
		names[i] = t.Name
	}
	errs = append(errs, effect.CheckTargetNames("consul", names)...)
	for _, t := range c.Targets {
		if t.Addr == "" {
			errs = append(errs, fmt.Errorf("consul adapter: target %q has no address", t.Name))
		} else if _, err := ClientConfig(t, c.TLSPolicy); err != nil {
			errs = append(errs, err)
		}
	}
	if dup := duplicate(c.Watch.KeyPrefixes); dup != nil {
		errs = append(errs, fmt.Errorf("consul adapter: watched key prefix %q given twice", *dup))
	}
	if dup := duplicate(c.Watch.Services); dup != nil {
		errs = append(errs, fmt.Errorf("consul adapter: watched service %q given twice", *dup))
	}
	for _, s := range c.Watch.Services {
		if s == "" {
			errs = append(errs, errors.New("consul adapter: a watched service has no name"))
		}
	}
	if c.WatchWait < 0 || c.WatchWait > 10*time.Minute {
		errs = append(errs, fmt.Errorf("consul adapter: WatchWait is %s, want 0 to 10m", c.WatchWait))
	}
	if c.WatchRetryMin < 0 || c.WatchRetryMax < 0 || c.WatchRetryMin > c.WatchRetryMax {
		errs = append(errs, fmt.Errorf("consul adapter: watch retry waits %s to %s: want 0 < min <= max",
			c.WatchRetryMin, c.WatchRetryMax))
	}
	return errors.Join(errs...)
}

// duplicate is the first value given twice in list, or nil.
func duplicate(list []string) *string {
	seen := map[string]bool{}
	for i, s := range list {
		if seen[s] {
			return &list[i]
		}
		seen[s] = true
	}
	return nil
}

// ParseTarget reads a target given as NAME=HOST:PORT or NAME=https://HOST:PORT, as on the
// command line.
func ParseTarget(s string) (Target, error) {
	name, addr, ok := strings.Cut(s, "=")
	if !ok || name == "" || addr == "" {
		return Target{}, fmt.Errorf("consul target %q: want NAME=HOST:PORT", s)
	}
	return Target{Name: name, Addr: addr}, nil
}

// DefaultConfig is the configuration with every default filled in (and no targets): the flags
// of omni show these.
func DefaultConfig() Config {
	var c Config
	c.setDefaults()
	return c
}

// Package consul is the Consul adapter's driver: KV operations, service registration and TTL
// checks against its target agents, watches through blocking queries, and probes.
// handlers/effect runs it.
package consul

import (
	"errors"
	"fmt"
	"strings"
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
	// KeyPrefixes whose keys are watched (ConsulKVChanged).
	KeyPrefixes []string
	// Services whose instances and health are watched (ConsulServiceChanged).
	Services []string
}

// Config configures a Driver.
type Config struct {
	// Targets. Required, at least one.
	Targets []Target
	// Watch is what to watch on every target. Default: nothing.
	Watch Watch
}

func (c *Config) setDefaults() {}

// Validate reports every problem of the configuration.
func (c Config) Validate() error {
	var errs []error
	if len(c.Targets) == 0 {
		errs = append(errs, errors.New("consul adapter: no targets"))
	}
	seen := map[string]bool{}
	for i, t := range c.Targets {
		switch {
		case t.Name == "":
			errs = append(errs, fmt.Errorf("consul adapter: target %d has no name", i))
		case strings.Contains(t.Name, "/"):
			errs = append(errs, fmt.Errorf("consul adapter: target name %q contains \"/\"", t.Name))
		case seen[t.Name]:
			errs = append(errs, fmt.Errorf("consul adapter: target %q given twice", t.Name))
		}
		seen[t.Name] = true
		if t.Addr == "" {
			errs = append(errs, fmt.Errorf("consul adapter: target %q has no address", t.Name))
		}
	}
	return errors.Join(errs...)
}

// ParseTarget reads a target given as NAME=HOST:PORT, as on the command line.
func ParseTarget(s string) (Target, error) {
	name, addr, ok := strings.Cut(s, "=")
	if !ok || name == "" || addr == "" {
		return Target{}, fmt.Errorf("consul target %q: want NAME=HOST:PORT", s)
	}
	return Target{Name: name, Addr: addr}, nil
}

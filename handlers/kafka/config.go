// Package kafka is the Kafka adapter's driver: it publishes records, ensures topics and
// describes clusters for its target clusters, and probes them. handlers/effect runs it.
package kafka

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/effect"
	"github.com/omninode/omnibase-infra/platform/bus"
)

// Target is one Kafka cluster the adapter acts on.
type Target struct {
	// Name identifies the target in events ("kafka/<Name>"). Required; no "/" in it.
	Name string
	// Brokers to bootstrap from, HOST:PORT. Required.
	Brokers []string
	// Security of the connections to Brokers (TLS, SASL). Default: plaintext, no authentication.
	Security bus.Security
}

// Config configures a Driver.
type Config struct {
	// Targets. Required, at least one.
	Targets []Target
	// Producers in each target's pool: how many publishes to one cluster run at once. Default 2.
	Producers int
	// Timeout of one request to a broker (dial, read, write, produce, admin). Default 5s.
	Timeout time.Duration
	// ControlTopics are the loop's own topics (the events and intents topics, every commands and
	// every poison topic), which publish refuses on every target unless AllowControlTopics.
	// Default events.DefaultTopics(); omni sets the topics it runs with.
	ControlTopics events.Topics
	// AllowControlTopics lets publish write to the ControlTopics, around the outbox and the event
	// log. Default false.
	AllowControlTopics bool
}

func (c *Config) setDefaults() {
	if c.Producers == 0 {
		c.Producers = 2
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.ControlTopics == (events.Topics{}) {
		c.ControlTopics = events.DefaultTopics()
	}
}

// Validate reports every problem of the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Producers < 0 || c.Timeout < 0 {
		errs = append(errs, errors.New("kafka adapter: negative Producers or Timeout"))
	}
	names := make([]string, len(c.Targets))
	for i, t := range c.Targets {
		names[i] = t.Name
	}
	if err := c.ControlTopics.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("kafka adapter: control topics: %w", err))
	}
	errs = append(errs, effect.CheckTargetNames("kafka", names)...)
	for _, t := range c.Targets {
		if len(t.Brokers) == 0 {
			errs = append(errs, fmt.Errorf("kafka adapter: target %q has no brokers", t.Name))
		}
		for _, b := range t.Brokers {
			if _, port, ok := strings.Cut(b, ":"); !ok || port == "" {
				errs = append(errs, fmt.Errorf("kafka adapter: target %q: broker %q is not HOST:PORT", t.Name, b))
			}
		}
		if err := t.Security.ValidateAs(securityParams); err != nil {
			errs = append(errs, fmt.Errorf("kafka adapter: target %q: %w", t.Name, err))
		}
	}
	return errors.Join(errs...)
}

// ParseTarget reads a target given as NAME=HOST:PORT[,HOST:PORT...][?PARAMS], as on the command
// line. PARAMS set the target's Security: tls=true, tls_ca, tls_cert, tls_key (files),
// tls_server_name, sasl_mechanism, sasl_user, and the password from the environment variable
// named by sasl_password_env or the file named by sasl_password_file (read here; never the
// password itself), e.g. orders=k1:9093,k2:9093?tls_ca=/etc/ca.pem&sasl_mechanism=SCRAM-SHA-512&
// sasl_user=ops&sasl_password_env=ORDERS_KAFKA_PASSWORD.
func ParseTarget(s string) (Target, error) {
	name, rest, ok := strings.Cut(s, "=")
	list, query, _ := strings.Cut(rest, "?")
	if !ok || name == "" || list == "" {
		return Target{}, fmt.Errorf("kafka target %q: want NAME=HOST:PORT[,HOST:PORT...][?PARAMS]", s)
	}
	t := Target{Name: name}
	for _, b := range strings.Split(list, ",") {
		if b = strings.TrimSpace(b); b != "" {
			t.Brokers = append(t.Brokers, b)
		}
	}
	if query == "" {
		return t, nil
	}
	sec, err := parseSecurity(query)
	if err != nil {
		return Target{}, fmt.Errorf("kafka target %q: %w", name, err)
	}
	t.Security = sec
	return t, nil
}

// DefaultConfig is the configuration with every default filled in (and no targets): the flags
// of omni show these.
func DefaultConfig() Config {
	var c Config
	c.setDefaults()
	return c
}

// Package postgres is the PostgreSQL adapter's driver: it executes commands against its target
// databases and probes them. handlers/effect runs it (breaker, retries, records, probe schedule).
package postgres

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Target is one database the adapter watches.
type Target struct {
	// Name identifies the target in events ("postgres/<Name>"). Required; no "/" in it.
	Name string
	// URL of the database. Required.
	URL string
}

// Config configures an Adapter.
type Config struct {
	// Targets to probe. Required, at least one.
	Targets []Target
	// ConnectTimeout of one connection attempt. Default 2s.
	ConnectTimeout time.Duration
	// MaxConns of each target's pool. Default 4.
	MaxConns int32
}

func (c *Config) setDefaults() {
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 2 * time.Second
	}
	if c.MaxConns == 0 {
		c.MaxConns = 4
	}
}

// Validate reports every problem of the configuration.
func (c Config) Validate() error {
	var errs []error
	if len(c.Targets) == 0 {
		errs = append(errs, errors.New("postgres adapter: no targets"))
	}
	seen := map[string]bool{}
	for i, t := range c.Targets {
		switch {
		case t.Name == "":
			errs = append(errs, fmt.Errorf("postgres adapter: target %d has no name", i))
		case strings.Contains(t.Name, "/"):
			errs = append(errs, fmt.Errorf("postgres adapter: target name %q contains \"/\"", t.Name))
		case seen[t.Name]:
			errs = append(errs, fmt.Errorf("postgres adapter: target %q given twice", t.Name))
		}
		seen[t.Name] = true
		if _, err := pgxpool.ParseConfig(t.URL); err != nil {
			errs = append(errs, fmt.Errorf("postgres adapter: target %q: invalid url: %w", t.Name, err))
		}
	}
	if c.ConnectTimeout < 0 {
		errs = append(errs, errors.New("postgres adapter: negative connect timeout"))
	}
	return errors.Join(errs...)
}

// ParseTarget reads a target given as NAME=URL, as on the command line.
func ParseTarget(s string) (Target, error) {
	name, url, ok := strings.Cut(s, "=")
	if !ok || name == "" || url == "" {
		return Target{}, fmt.Errorf("postgres target %q: want NAME=URL", s)
	}
	return Target{Name: name, URL: url}, nil
}

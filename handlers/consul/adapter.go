package consul

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/hashicorp/consul/api"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/effect"
)

// Driver talks to the configured Consul agents.
type Driver struct {
	cfg     Config
	names   []string
	clients map[string]*api.Client
	logger  *slog.Logger
}

var _ effect.Driver = (*Driver)(nil)

// New builds the driver. Clients connect lazily, so an agent that is down at start-up is
// reported unhealthy rather than failing the start.
func New(cfg Config, logger *slog.Logger) (*Driver, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	d := &Driver{cfg: cfg, clients: map[string]*api.Client{}, logger: logger}
	for _, t := range cfg.Targets {
		ac := api.DefaultConfig()
		ac.Address = t.Addr
		cl, err := api.NewClient(ac)
		if err != nil {
			return nil, fmt.Errorf("consul target %q: %w", t.Name, err)
		}
		d.clients[t.Name] = cl
		d.names = append(d.names, t.Name)
	}
	return d, nil
}

func (d *Driver) Adapter() string            { return events.AdapterConsul }
func (d *Driver) Targets() []string          { return d.names }
func (d *Driver) Commands() []events.Command { return nil }
func (d *Driver) Close()                     {}

// Execute runs one command against target.
func (d *Driver) Execute(ctx context.Context, target string, cmd events.Command) (any, error) {
	return nil, fmt.Errorf("consul adapter cannot execute %s yet", cmd.Kind())
}

// Probe asks the agent for the cluster's leader.
func (d *Driver) Probe(ctx context.Context, target string) (effect.Health, error) {
	leader, err := d.clients[target].Status().LeaderWithQueryOptions((&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return effect.Health{}, err
	}
	if leader == "" {
		return effect.Health{}, errors.New("no leader")
	}
	return effect.Health{Details: map[string]string{"leader": leader}}, nil
}

// Transient reports whether err may go away by itself.
func (d *Driver) Transient(err error) bool {
	return err != nil && !errors.Is(err, context.Canceled)
}

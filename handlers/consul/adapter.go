package consul

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/effect"
)

// Driver talks to the configured Consul agents.
type Driver struct {
	cfg        Config
	names      []string
	clients    map[string]*api.Client
	transports []*http.Transport
	logger     *slog.Logger

	calls effect.Calls // Execute, Probe, Initialize and Recover in flight: see enter
}

var (
	_ effect.Driver      = (*Driver)(nil)
	_ effect.Watcher     = (*Driver)(nil)
	_ effect.Recoverer   = (*Driver)(nil)
	_ effect.Initializer = (*Driver)(nil)
)

var (
	// errNoLeader is a probe's error when the agent answers but knows no cluster leader.
	errNoLeader = errors.New("consul agent knows no cluster leader")
	// errClosed is returned for a command, probe, initialization or recovery after Close.
	errClosed = fmt.Errorf("consul %w", effect.ErrDriverClosed)
)

// New builds the driver. Clients connect lazily, so an agent that is down at start-up is
// reported unhealthy rather than failing the start.
func New(cfg Config, logger *slog.Logger) (*Driver, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	d := &Driver{cfg: cfg, clients: map[string]*api.Client{}, logger: logger}
	for _, t := range cfg.Targets {
		ac, err := ClientConfig(t, cfg.TLSPolicy)
		if err != nil {
			d.Close()
			return nil, err
		}
		cl, err := api.NewClient(ac)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("could not create client for consul target %q: %w", t.Name, err)
		}
		d.clients[t.Name] = cl
		d.transports = append(d.transports, ac.Transport)
		d.names = append(d.names, t.Name)
	}
	return d, nil
}

// Adapter is the adapter's name, the middle of its command topic (infra.commands.<adapter>) and
// the first half of every adapter id.
func (d *Driver) Adapter() string { return events.AdapterConsul }

// Targets are the names of the Consul targets configured, in the order given.
func (d *Driver) Targets() []string { return d.names }

// Commands are the Consul adapter's commands.
func (d *Driver) Commands() []events.Command {
	return []events.Command{
		events.ConsulKVGet{}, events.ConsulKVPut{}, events.ConsulKVDelete{}, events.ConsulKVCompareAndSet{},
		events.ConsulRegisterService{}, events.ConsulDeregisterService{}, events.ConsulPassTTL{}, events.ConsulFailTTL{},
	}
}

// Close waits for the calls in flight, then drops the idle connections to the agents. Calls
// after Close fail with errClosed. The watches end with the context Watch was given, not here.
func (d *Driver) Close() {
	// Dropping idle connections stops nothing: the HTTP client serves the calls in flight, and
	// new ones, as before. Counting the calls is what lets Close wait for them and refuse more.
	d.calls.Close()
	for _, t := range d.transports {
		if t != nil {
			t.CloseIdleConnections()
		}
	}
}

// enter returns target's client and counts a call in flight, for Close to wait for; it refuses
// the call once Close was called. Call done when the call is over.
func (d *Driver) enter(target string) (_ *api.Client, done func(), _ error) {
	cl, ok := d.clients[target]
	if !ok {
		return nil, nil, fmt.Errorf("consul target %q is not configured", target)
	}
	done, err := d.calls.Enter(errClosed)
	return cl, done, err
}

// Execute runs one command against target's agent.
func (d *Driver) Execute(ctx context.Context, target string, cmd events.Command) (events.Result, error) {
	cl, done, err := d.enter(target)
	if err != nil {
		return nil, err
	}
	defer done()
	switch c := cmd.(type) {
	case events.ConsulKVGet:
		return kvGet(ctx, cl.KV(), c)
	case events.ConsulKVPut:
		return kvPut(ctx, cl.KV(), c)
	case events.ConsulKVDelete:
		return kvDelete(ctx, cl.KV(), c)
	case events.ConsulKVCompareAndSet:
		return kvCompareAndSet(ctx, cl.KV(), c)
	case events.ConsulRegisterService:
		return registerService(ctx, cl.Agent(), c)
	case events.ConsulDeregisterService:
		return deregisterService(ctx, cl.Agent(), c)
	case events.ConsulPassTTL:
		return updateTTL(ctx, cl.Agent(), c.CheckID, c.Note, api.HealthPassing)
	case events.ConsulFailTTL:
		return updateTTL(ctx, cl.Agent(), c.CheckID, c.Note, api.HealthCritical)
	}
	return nil, fmt.Errorf("the consul adapter cannot execute %s", cmd.Kind())
}

// Probe asks the agent for the cluster's leader and its peers. Its details:
//
//   - "leader": the leader's server address (HOST:PORT of its RPC port);
//   - "peers": how many Raft peers the cluster has;
//   - "round_trip_us": the round trip of the leader query, in microseconds.
//
// An agent that answers without a leader is unhealthy.
func (d *Driver) Probe(ctx context.Context, target string) (effect.Health, error) {
	cl, done, err := d.enter(target)
	if err != nil {
		return effect.Health{}, err
	}
	defer done()
	status := cl.Status()
	q := (&api.QueryOptions{}).WithContext(ctx)
	start := time.Now()
	leader, err := status.LeaderWithQueryOptions(q)
	rtt := time.Since(start)
	if err != nil {
		return effect.Health{}, fmt.Errorf("could not ask consul for its leader: %w", err)
	}
	details := map[string]string{"round_trip_us": strconv.FormatInt(rtt.Microseconds(), 10)}
	if leader == "" {
		return effect.Health{Details: details}, errNoLeader
	}
	details["leader"] = leader
	peers, err := status.PeersWithQueryOptions(q)
	if err != nil {
		return effect.Health{Details: details}, fmt.Errorf("could not ask consul for its peers: %w", err)
	}
	details["peers"] = strconv.Itoa(len(peers))
	return effect.Health{Details: details}, nil
}

// Transient reports whether err may go away by itself: see transient.
func (d *Driver) Transient(err error) bool { return transient(err) }

package containers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/testcontainers/testcontainers-go"

	"github.com/omninode/omnibase-infra/tests/images"
)

// Consul is a single-node Consul 1.21 agent in dev mode (a server that elects itself leader).
type Consul struct {
	*Server
	// Addr of its HTTP API, HOST:PORT.
	Addr string
}

// StartConsul starts a Consul dev agent and waits until it has a leader.
func StartConsul(ctx context.Context) (*Consul, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	http, serfLAN, server := ports[0], ports[1], ports[2]
	s, err := start(ctx, images.Consul, testcontainers.WithCmd("agent", "-dev", "-client", "127.0.0.1", "-bind", "127.0.0.1",
		"-http-port", strconv.Itoa(http), "-serf-lan-port", strconv.Itoa(serfLAN), "-server-port", strconv.Itoa(server),
		// Several agents run side by side on the host's network: turn off what would clash.
		"-dns-port", "-1", "-grpc-port", "-1", "-grpc-tls-port", "-1", "-serf-wan-port", "-1"))
	if err != nil {
		return nil, err
	}
	c := &Consul{Server: s, Addr: fmt.Sprintf("127.0.0.1:%d", http)}
	return c, c.waitReady(ctx)
}

// Start starts the stopped agent again, on the same ports, and waits until it has a leader.
func (c *Consul) Start(ctx context.Context) error {
	if err := c.ctr.Start(ctx); err != nil {
		return fmt.Errorf("could not start Consul again: %w", err)
	}
	return c.waitReady(ctx)
}

func (c *Consul) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return poll(ctx, "Consul at "+c.Addr+" electing a leader", func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.Addr+"/v1/status/leader", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var leader string
		if err := json.NewDecoder(resp.Body).Decode(&leader); err != nil {
			return fmt.Errorf("status %s: %w", resp.Status, err)
		}
		if leader == "" {
			return fmt.Errorf("no leader yet")
		}
		return nil
	})
}

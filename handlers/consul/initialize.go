package consul

import (
	"context"
	"fmt"

	"github.com/hashicorp/consul/api"

	"github.com/omninode/omnibase-infra/events"
)

// Initialize asks target's agent which datacenter it is in and who leads the cluster. An agent
// that knows no leader is not ready.
func (d *Driver) Initialize(ctx context.Context, target string) (events.Result, error) {
	cl, done, err := d.enter(target)
	if err != nil {
		return nil, err
	}
	defer done()
	q := (&api.QueryOptions{}).WithContext(ctx)
	var self struct{ Config struct{ Datacenter string } }
	if _, err := cl.Raw().Query("/v1/agent/self", &self, q); err != nil {
		return nil, fmt.Errorf("could not ask the consul agent about itself: %w", err)
	}
	leader, err := cl.Status().LeaderWithQueryOptions(q)
	if err != nil {
		return nil, fmt.Errorf("could not ask consul for its leader: %w", err)
	}
	if leader == "" {
		return nil, errNoLeader
	}
	return events.ConsulInitialized{Datacenter: self.Config.Datacenter, Leader: leader}, nil
}

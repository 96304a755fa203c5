package consul

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/omninode/omnibase-infra/events"
)

// registrations are the services the driver registered and has not deregistered since, per
// target, as their last register_service command said. They live in memory only: a restarted
// adapter recovers none.
type registrations struct {
	mu       sync.Mutex
	byTarget map[string]map[string]events.ConsulRegisterService
}

func newRegistrations() *registrations {
	return &registrations{byTarget: map[string]map[string]events.ConsulRegisterService{}}
}

func (r *registrations) add(target string, c events.ConsulRegisterService) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byTarget[target] == nil {
		r.byTarget[target] = map[string]events.ConsulRegisterService{}
	}
	r.byTarget[target][c.ServiceID] = c
}

func (r *registrations) remove(target, serviceID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.byTarget[target], serviceID)
}

// of are target's registrations, by service id.
func (r *registrations) of(target string) []events.ConsulRegisterService {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]events.ConsulRegisterService, 0, len(r.byTarget[target]))
	for _, c := range r.byTarget[target] {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b events.ConsulRegisterService) int { return cmp.Compare(a.ServiceID, b.ServiceID) })
	return out
}

// Recover registers again every service the driver registered with target's agent and has not
// deregistered since, as it registered it: an agent that restarted without its data directory (a
// dev agent always does) has forgotten them. Registering is idempotent, so services the agent
// still knows are left as they are. Its actions are "re-registered service <id>", one per
// service; its error names every service it could not register.
func (d *Driver) Recover(ctx context.Context, target string) ([]string, error) {
	cl, done, err := d.enter(target)
	if err != nil {
		return nil, err
	}
	defer done()
	actions := []string{}
	var errs []error
	for _, c := range d.registered.of(target) {
		if _, err := registerService(ctx, cl.Agent(), c); err != nil {
			errs = append(errs, err)
			continue
		}
		actions = append(actions, "re-registered service "+c.ServiceID)
	}
	return actions, errors.Join(errs...)
}

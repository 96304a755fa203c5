package consul

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/effect"
)

// registeredService is the kind of target memory under which the driver keeps, by service id, the
// last register_service command of every service it registered and has not deregistered since.
const registeredService = "registered_service"

var _ effect.Rememberer = (*Driver)(nil)

// Remember keeps register_service commands that succeeded and forgets those deregistered, in the
// transaction that records their outcome: the registrations outlive the process, and a new owner
// of the target registers them again on recovery.
func (d *Driver) Remember(ctx context.Context, m effect.Memory, cmd events.Command) error {
	switch c := cmd.(type) {
	case events.ConsulRegisterService:
		return m.Put(ctx, registeredService, c.ServiceID, c)
	case events.ConsulDeregisterService:
		return m.Delete(ctx, registeredService, c.ServiceID)
	}
	return nil
}

// registrations are target's remembered registrations, by service id.
func (d *Driver) registrations(ctx context.Context, target string) ([]events.ConsulRegisterService, error) {
	if d.cfg.Memory == nil {
		return nil, nil
	}
	var out []events.ConsulRegisterService
	err := effect.Recall(ctx, d.cfg.Memory, events.AdapterID(events.AdapterConsul, target), registeredService,
		func(_ string, value []byte) error {
			var c events.ConsulRegisterService
			if err := json.Unmarshal(value, &c); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	return out, err
}

// Recover registers again every service the adapter registered with target's agent and has not
// deregistered since, as it registered it — whichever process registered it: an agent that restarted without its data directory (a
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
	registered, err := d.registrations(ctx, target)
	if err != nil {
		return actions, fmt.Errorf("could not read the services to register again: %w", err)
	}
	var errs []error
	for _, c := range registered {
		if _, err := registerService(ctx, cl.Agent(), c); err != nil {
			errs = append(errs, err)
			continue
		}
		actions = append(actions, "re-registered service "+c.ServiceID)
	}
	return actions, errors.Join(errs...)
}

package consul

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/hashicorp/consul/api"

	"github.com/omninode/omnibase-infra/events"
)

// Agent is the part of Consul's agent API the service commands use; *api.Agent is one.
type Agent interface {
	ServiceRegisterOpts(service *api.AgentServiceRegistration, opts api.ServiceRegisterOpts) error
	ServiceDeregisterOpts(serviceID string, q *api.QueryOptions) error
	UpdateTTLOpts(checkID, output, status string, q *api.QueryOptions) error
}

var _ Agent = (*api.Agent)(nil)

// registerService registers the instance with the agent. Its checks replace the ones it had, so
// registering the same instance again converges on the same state.
func registerService(ctx context.Context, agent Agent, c events.ConsulRegisterService) (events.ConsulRegisterServiceResult, error) {
	reg := &api.AgentServiceRegistration{
		ID: c.ServiceID, Name: c.Name, Address: c.Address, Port: c.Port, Tags: c.Tags, Meta: c.Meta,
	}
	result := events.ConsulRegisterServiceResult{ServiceID: c.ServiceID}
	if c.Check != nil {
		reg.Check = buildCheck(c.ServiceID, *c.Check)
		result.CheckID = reg.Check.CheckID
	}
	opts := api.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(ctx)
	if err := agent.ServiceRegisterOpts(reg, opts); err != nil {
		return events.ConsulRegisterServiceResult{}, fmt.Errorf("could not register service %q: %w", c.ServiceID, err)
	}
	return result, nil
}

// buildCheck turns a command's check into Consul's. Its id defaults to Consul's own default for
// a service's only check, "service:<service id>", so the result can name it. Durations pass
// through as the strings they are (the command validated them).
func buildCheck(serviceID string, c events.ServiceCheck) *api.AgentServiceCheck {
	check := &api.AgentServiceCheck{
		CheckID: c.ID, Timeout: c.Timeout, DeregisterCriticalServiceAfter: c.DeregisterAfter,
	}
	if check.CheckID == "" {
		check.CheckID = "service:" + serviceID
	}
	switch c.Type {
	case events.CheckHTTP:
		check.HTTP, check.Interval = c.HTTP, c.Interval
	case events.CheckTCP:
		check.TCP, check.Interval = c.TCP, c.Interval
	case events.CheckTTL:
		check.TTL = c.TTL
	}
	return check
}

// deregisterService removes the instance from the agent. An instance the agent does not know is
// already gone: that is a success too, so a redelivered command does not fail.
func deregisterService(ctx context.Context, agent Agent, c events.ConsulDeregisterService) (events.ConsulDeregisterServiceResult, error) {
	err := agent.ServiceDeregisterOpts(c.ServiceID, (&api.QueryOptions{}).WithContext(ctx))
	var se api.StatusError
	if err != nil && !(errors.As(err, &se) && se.Code == http.StatusNotFound) {
		return events.ConsulDeregisterServiceResult{}, fmt.Errorf("could not deregister service %q: %w", c.ServiceID, err)
	}
	return events.ConsulDeregisterServiceResult{ServiceID: c.ServiceID}, nil
}

// updateTTL sets a TTL check's status (api.HealthPassing or api.HealthCritical) with note as its
// output. An unknown check, or one that is not a TTL check, is a permanent failure with Consul's
// own message.
func updateTTL(ctx context.Context, agent Agent, checkID, note, status string) (events.ConsulTTLResult, error) {
	if err := agent.UpdateTTLOpts(checkID, note, status, (&api.QueryOptions{}).WithContext(ctx)); err != nil {
		return events.ConsulTTLResult{}, fmt.Errorf("could not mark check %q %s: %w", checkID, status, err)
	}
	return events.ConsulTTLResult{CheckID: checkID, Status: status}, nil
}

package kafka

import (
	"context"
	"fmt"

	"github.com/omninode/omnibase-infra/events"
)

// Initialize connects to target and reads its metadata: how many brokers it lists and which is
// the controller.
func (d *Driver) Initialize(ctx context.Context, target string) (events.Result, error) {
	c, ok := d.clusters[target]
	if !ok {
		return nil, fmt.Errorf("%w: kafka target %q is not configured", errBadCommand, target)
	}
	meta, err := call(ctx, d, target, c.metadata)
	if err != nil {
		return nil, err
	}
	return events.KafkaInitialized{Brokers: len(meta.brokers), ControllerID: meta.controllerID}, nil
}

package kafka

import (
	"context"
	"fmt"

	"github.com/omninode/omnibase-infra/events"
)

// Initialize connects to target and reads its metadata: how many brokers it lists and which is
// the controller. Sarama's requests do not take a context: its own timeouts bound them.
func (d *Driver) Initialize(_ context.Context, target string) (events.Result, error) {
	c, ok := d.clusters[target]
	if !ok {
		return nil, fmt.Errorf("%w: kafka target %q is not configured", errBadCommand, target)
	}
	cn, done, err := c.connect()
	if err != nil {
		return nil, err
	}
	defer done()
	meta, err := cn.metadata()
	if err != nil {
		return nil, err
	}
	return events.KafkaInitialized{Brokers: len(meta.brokers), ControllerID: meta.controllerID}, nil
}

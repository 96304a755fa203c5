package kafka

import (
	"context"
	"fmt"
	"strconv"
)

// Initialize connects to target and reads its metadata. Its result:
//
//   - "brokers": how many brokers the metadata lists;
//   - "controller_id": the controller's broker id.
//
// Sarama's requests do not take a context: its own timeouts bound them.
func (d *Driver) Initialize(_ context.Context, target string) (map[string]string, error) {
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
	return map[string]string{
		"brokers":       strconv.Itoa(len(meta.brokers)),
		"controller_id": strconv.Itoa(int(meta.controllerID)),
	}, nil
}

package kafka

import (
	"context"
	"fmt"
)

// Recover replaces target's connection with a fresh one: a new client, which reads the cluster's
// metadata anew, a new cluster admin and a new producer pool. Sarama reconnects by itself, but a
// client can stay stuck on brokers that moved or producers whose connections broke; a fresh
// connection has neither. Publishes in flight finish on the old connection, which closes after
// them. When the cluster cannot be reached the old connection is kept. A recovery still going
// at ctx's end fails at once, and goes on: the fresh connection replaces the old one once made.
func (d *Driver) Recover(ctx context.Context, target string) ([]string, error) {
	c, ok := d.clusters[target]
	if !ok {
		return nil, fmt.Errorf("kafka target %q is not configured", target)
	}
	return call(ctx, d, target, c.recover)
}

func (c *cluster) recover() ([]string, error) {
	fresh, err := dial(c.name, c.brokers, c.security, c.cfg)
	if err != nil {
		return nil, err
	}
	meta, err := fresh.metadata()
	if err != nil {
		fresh.close()
		return nil, fmt.Errorf("kafka target %q: %w", c.name, err)
	}
	actions := []string{
		fmt.Sprintf("refreshed the cluster metadata (%d brokers, controller %d)", len(meta.brokers), meta.controllerID),
		fmt.Sprintf("replaced the client and its producer pool (%d producers)", len(fresh.producers)),
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		fresh.close()
		return nil, errClosed
	}
	old := c.conn
	c.conn = fresh
	if old != nil {
		// Under the lock, so never while close waits for the retired connections.
		c.retired.Go(func() {
			old.users.Wait()
			old.close()
		})
	}
	return actions, nil
}

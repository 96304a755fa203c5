package postgres

import (
	"github.com/omninode/omnibase-infra/platform/credentials"
)

// watchCredentials replaces the connections of each target whose credentials change, and
// returns what stops the watches.
func (d *Driver) watchCredentials() (stop func()) {
	var stops []func()
	for _, t := range d.cfg.Targets {
		if t.Credentials == "" {
			continue
		}
		ref, _ := credentials.ParseRef(t.Credentials) // Validate parsed it
		stops = append(stops, d.cfg.Credentials.Watch(ref, func() { d.resetPool(t.Name) }))
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}

// resetPool closes target's idle connections, and the others when they are released: the next
// ones are made with the new credentials, and the commands in flight finish on the old ones.
func (d *Driver) resetPool(target string) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if p, ok := d.pools[target]; ok && !d.closed {
		p.pool.Reset()
		d.logger.Info("postgres target's credentials changed; replacing its connections", "target", target)
	}
}

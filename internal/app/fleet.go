package app

import "github.com/omninode/omnibase-infra/internal/fleet"

// addFleetMetrics registers the fleet's metrics, read from the control database and the brokers
// at each scrape, in every process whatever its roles: each reports the same fleet view.
func (n *node) addFleetMetrics() error {
	c, err := fleet.NewCollector(fleet.Config{DB: n.db, Kafka: n.kafka}, n.logger.With("component", "fleet-metrics"))
	if err != nil {
		return err
	}
	return n.registry.Register(c)
}

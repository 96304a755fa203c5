package integration_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
)

// A probe command runs through the same path as every other command and ends in its outcome.
func TestCommands_probe_command_succeeds_with_the_health_report(t *testing.T) {
	kafka := newKafka(t)
	url, _ := newControlDB(t)
	startApp(t, adapterConfig(url, kafka.Brokers()))
	c := newCommander(t, kafka.Brokers())

	caused := c.run(events.ProbeTarget{Adapter: events.AdapterPostgres, Target: "control"})
	var result struct {
		Healthy bool `json:"healthy"`
	}
	done := succeeded(t, caused, &result)
	require.True(t, result.Healthy)
	require.Equal(t, "postgres/control", done.AdapterID)
	require.IsType(t, events.AdapterHealthReported{}, caused[0].Event)
}

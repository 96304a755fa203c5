package seal_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/telemetry"
)

// The trace context is written at every hop (the outbox, the relay), after the MAC: it is not part
// of what the MAC covers, while the envelope still is.
func TestTraceContextWrittenAfterTheMACStillVerifies(t *testing.T) {
	s, reg := sealer(t)
	cmd := events.ProbeTarget{Adapter: events.AdapterPostgres, Target: "orders"}
	msg := encode(t, cmd)
	require.NoError(t, s.Seal(context.Background(), "infra.commands.postgres", msg))

	for _, tp := range []string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
	} {
		msg.Metadata.Set(telemetry.MetaTraceParent, tp)
		msg.Metadata.Set(telemetry.MetaTraceState, "vendor=x")
		_, got, err := reg.DecodeFrom("infra.commands.postgres", msg)
		require.NoError(t, err, "traceparent %s", tp)
		require.Equal(t, cmd, got)
	}

	c := msg.Copy()
	c.Metadata.Set(events.MetaCorrelationID, "another")
	_, _, err := reg.DecodeFrom("infra.commands.postgres", c)
	require.ErrorIs(t, err, events.ErrUnauthenticated, "the envelope is still covered")
}

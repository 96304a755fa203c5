package poison_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/internal/poison"
)

func TestFilter_Validate_names_every_problem(t *testing.T) {
	now := time.Now()
	err := poison.Filter{Status: "lost", Since: now, Until: now.Add(-time.Hour), Limit: -1}.Validate()
	require.ErrorContains(t, err, `status "lost": want poisoned, requeued or discarded`)
	require.ErrorContains(t, err, "is not after since")
	require.ErrorContains(t, err, "limit -1 is negative")
	require.NoError(t, poison.Filter{Status: poison.StatusRequeued, Since: now.Add(-time.Hour), Until: now}.Validate())
}

func TestFilter_Empty_is_what_bulk_actions_refuse_without_all(t *testing.T) {
	require.True(t, poison.Filter{}.Empty())
	require.True(t, poison.Filter{Status: poison.StatusPoisoned, Limit: 5}.Empty(), "status and paging select nothing by themselves")
	require.False(t, poison.Filter{Reason: "x"}.Empty())
	require.False(t, poison.Filter{Since: time.Now()}.Empty())
}

func TestOriginalID_strips_the_requeue_suffix(t *testing.T) {
	require.Equal(t, "5f1c", poison.OriginalID("5f1c/requeue-2"))
	require.Equal(t, "5f1c", poison.OriginalID("5f1c"))
	require.Equal(t, "outbox/-1/7", poison.OriginalID("outbox/-1/7"), "an id made of where it was stays whole")
}

func TestMessage_TraceID(t *testing.T) {
	m := poison.Message{Metadata: map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", m.TraceID())
	require.Empty(t, poison.Message{}.TraceID())
}

package events_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
)

func TestSecurityTypeOf_names_the_reasons_that_are_security_events(t *testing.T) {
	for _, tt := range []struct {
		name   string
		reason error
		want   events.SecurityEventType
		ok     bool
	}{
		{"unauthenticated", &events.DecodeError{Reason: events.ErrUnauthenticated}, events.SecurityUnauthenticated, true},
		{"undecryptable", fmt.Errorf("field args: %w", events.ErrUndecryptable), events.SecurityUndecryptable, true},
		{"rejected", fmt.Errorf("%w: postgres target %q is not configured", events.ErrRejected, "x"), events.SecurityRejected, true},
		{"a_bad_envelope_is_not", &events.DecodeError{Reason: events.ErrBadEnvelope}, "", false},
		{"a_transient_error_is_not", errors.New("connection refused"), "", false},
		{"no_reason", nil, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := events.SecurityTypeOf(tt.reason)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, got)
		})
	}
	require.True(t, events.DefaultTopics().IsControl(events.SecurityTopic))
	require.True(t, events.DefaultTopics().IsControl(events.AuditTopic))
}

package events_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
)

func TestPermanent(t *testing.T) {
	decodeErr := &events.DecodeError{Reason: events.ErrUnknownType, MessageID: "msg-1"}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "decode_error", err: decodeErr, want: true},
		{name: "wrapped_decode_error", err: fmt.Errorf("could not handle: %w", decodeErr), want: true},
		{name: "rejected", err: fmt.Errorf("%w: no target %q", events.ErrRejected, "orders"), want: true},
		{name: "rejected_joined_with_a_transient_error", err: errors.Join(errors.New("timeout"), events.ErrRejected), want: true},
		{name: "transient_error", err: errors.New("connection reset by peer"), want: false},
		{name: "context_deadline", err: fmt.Errorf("could not probe: %w", context.DeadlineExceeded), want: false},
		{name: "no_error", err: nil, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, events.Permanent(tt.err))
		})
	}
}

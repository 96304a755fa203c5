package consumer_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/consumer"
)

func TestIsPermanent_decode_errors_rejections_and_marked_errors_only(t *testing.T) {
	for name, tc := range map[string]struct {
		err  error
		want bool
	}{
		"decode_error":       {&events.DecodeError{Reason: events.ErrUnknownType, MessageID: "m1"}, true},
		"wrapped_rejection":  {fmt.Errorf("handling m1: %w", fmt.Errorf("%w: no route", events.ErrRejected)), true},
		"marked":             {consumer.Permanent(errors.New("kafka: message too large")), true},
		"marked_then_joined": {errors.Join(consumer.Permanent(errors.New("too large")), errors.New("poison failed")), true},
		"connection_refused": {errors.New("dial tcp 127.0.0.1:5432: connect: connection refused"), false},
		"nil":                {nil, false},
	} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, consumer.IsPermanent(tc.err))
		})
	}
	require.NoError(t, consumer.Permanent(nil))
	require.EqualError(t, consumer.Permanent(errors.New("too large")), "too large", "marking keeps the reason as it was")
}

func TestNewPolicy_names_what_is_missing(t *testing.T) {
	_, err := consumer.NewPolicy(consumer.PolicyConfig{Retries: -1}, nil)
	require.ErrorContains(t, err, "missing poison Store")
	require.ErrorContains(t, err, "retries -1 is negative")
}

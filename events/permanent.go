package events

import (
	"errors"
	"fmt"
)

// ErrRejected marks a message that is well formed but can never be handled (a command for a
// target that is not configured, an intent with no route). Wrap it: fmt.Errorf("%w: ...", ErrRejected).
var ErrRejected = errors.New("rejected")

// ErrRateLimited marks a message refused because its sender, its endpoint or its target sent
// too many (platform/ratelimit). It is a rejection (errors.Is(err, ErrRejected)): permanent,
// poisoned like the others, and the security event it becomes is SecurityRateLimited.
var ErrRateLimited = fmt.Errorf("%w: rate limited", ErrRejected)

// Permanent reports whether handling err's message again can never succeed: it cannot be decoded
// or it was rejected. Consumers send such messages to their poison topic instead of retrying.
func Permanent(err error) bool {
	var d *DecodeError
	return errors.As(err, &d) || errors.Is(err, ErrRejected)
}

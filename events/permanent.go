package events

import "errors"

// ErrRejected marks a message that is well formed but can never be handled (a command for a
// target that is not configured, an intent with no route). Wrap it: fmt.Errorf("%w: ...", ErrRejected).
var ErrRejected = errors.New("rejected")

// Permanent reports whether handling err's message again can never succeed: it cannot be decoded
// or it was rejected. Consumers send such messages to their poison topic instead of retrying.
func Permanent(err error) bool {
	var d *DecodeError
	return errors.As(err, &d) || errors.Is(err, ErrRejected)
}

package app

import "errors"

// The kinds of error a caller (cmd/omni's exit codes) tells apart. An error is marked with one
// by Mark and keeps its own message; errors.Is finds the mark.
var (
	// ErrInvalidConfig marks a setting that is missing or wrong: nothing was tried.
	ErrInvalidConfig = errors.New("invalid config")
	// ErrUnreachable marks a system (the control database, the brokers) that could not be reached.
	ErrUnreachable = errors.New("unreachable")
)

// Mark returns err marked as of kind (ErrInvalidConfig, ErrUnreachable), its message unchanged.
// A nil err stays nil.
func Mark(err, kind error) error {
	if err == nil {
		return nil
	}
	return marked{err: err, kind: kind}
}

type marked struct{ err, kind error }

func (m marked) Error() string   { return m.err.Error() }
func (m marked) Unwrap() []error { return []error{m.err, m.kind} }

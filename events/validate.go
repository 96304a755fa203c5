package events

import (
	"errors"
	"fmt"
	"time"
)

// fields collects every problem of a payload, so one error names all of them.
type fields []error

func (f *fields) text(name, value string) {
	if value == "" {
		*f = append(*f, fmt.Errorf("missing field %q", name))
	}
}

func (f *fields) time(name string, value time.Time) {
	if value.IsZero() {
		*f = append(*f, fmt.Errorf("missing field %q", name))
	}
}

func (f *fields) nonNegative(name string, value int64) {
	if value < 0 {
		*f = append(*f, fmt.Errorf("field %q is %d, must not be negative", name, value))
	}
}

func (f *fields) positive(name string, value int64) {
	if value <= 0 {
		*f = append(*f, fmt.Errorf("field %q is %d, must be positive", name, value))
	}
}

func (f *fields) oneOf(name, value string, allowed ...string) {
	for _, a := range allowed {
		if value == a {
			return
		}
	}
	*f = append(*f, fmt.Errorf("field %q is %q, want one of %q", name, value, allowed))
}

func (f *fields) duration(name, value string) {
	if value == "" {
		return
	}
	if d, err := time.ParseDuration(value); err != nil || d < 0 {
		*f = append(*f, fmt.Errorf("field %q is %q, want a duration such as \"10s\"", name, value))
	}
}

func (f fields) err() error { return errors.Join(f...) }

package kafka

import (
	"context"
	"fmt"
)

// Close waits for the calls in flight, those that gave up at their deadline included, then closes
// every target's producers, admin and client. Calls after Close fail with errClosed.
func (d *Driver) Close() {
	d.calls.Close()
	for _, c := range d.clusters {
		c.close()
	}
}

// call runs fn, which talks to target through Sarama, and returns what it returns, or ctx's error
// as soon as ctx ends. Sarama's requests take no context: without this a call would outlive the
// command's or the probe's deadline by Sarama's own timeouts. fn goes on in the background until
// the broker answers or those timeouts end it (a publish may still land then, as after any
// timeout: its record carries the command id), and Close waits for it.
func call[T any](ctx context.Context, d *Driver, target string, fn func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	done, err := d.calls.Enter(errClosed)
	if err != nil {
		return zero, err
	}
	type outcome struct {
		value T
		err   error
	}
	out := make(chan outcome, 1) // never blocks fn once nobody waits
	go func() {
		defer done()
		v, err := fn()
		out <- outcome{v, err}
	}()
	select {
	case o := <-out:
		return o.value, o.err
	case <-ctx.Done():
		return zero, fmt.Errorf("kafka target %q did not answer in time: %w", target, ctx.Err())
	}
}

package consul

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/effect"
)

// Health is the part of Consul's health API the service watches use; *api.Health is one.
type Health interface {
	Service(service, tag string, passingOnly bool, q *api.QueryOptions) ([]*api.ServiceEntry, *api.QueryMeta, error)
}

var _ Health = (*api.Health)(nil)

// Watch watches every configured key prefix and service on every target, each in a blocking-query
// loop of its own, and records what changes through rec: ConsulKVChanged for each key created,
// changed or deleted, ConsulServiceChanged with the whole instance list when it or an instance's
// status changes. Each loop first records the state it starts from (every key under the prefix;
// the service's instances, even none), once: after an outage it records only what differs from
// what it saw last. A failing loop waits WatchRetryMin, doubling up to WatchRetryMax, and tries
// again. Watch returns nil when ctx ends, after every loop stopped.
func (d *Driver) Watch(ctx context.Context, rec effect.Recorder) error {
	var wg sync.WaitGroup
	for _, name := range d.names {
		cl := d.clients[name]
		adapterID := events.AdapterID(events.AdapterConsul, name)
		for _, prefix := range d.cfg.Watch.KeyPrefixes {
			l := d.loop(rec, &kvQuery{kv: cl.KV(), prefix: prefix, adapterID: adapterID, wait: d.cfg.WatchWait},
				"adapter_id", adapterID, "key_prefix", prefix)
			wg.Go(func() { l.run(ctx) })
		}
		for _, service := range d.cfg.Watch.Services {
			l := d.loop(rec, &serviceQuery{health: cl.Health(), service: service, adapterID: adapterID, wait: d.cfg.WatchWait},
				"adapter_id", adapterID, "service", service)
			wg.Go(func() { l.run(ctx) })
		}
	}
	wg.Wait()
	return nil
}

// query is one watch's blocking query and the state it compares answers against.
type query interface {
	// poll waits until something changed after index (0: answers at once) or the wait ran out,
	// and returns the events of what differs from the committed state and the answer's index.
	poll(ctx context.Context, index uint64) ([]events.Message, uint64, error)
	// commit makes the last poll's answer the state the next one is compared against: its
	// events were recorded.
	commit()
}

// watchLoop runs one query until its context ends.
type watchLoop struct {
	q        query
	rec      effect.Recorder
	min, max time.Duration
	logger   *slog.Logger
}

func (d *Driver) loop(rec effect.Recorder, q query, attrs ...any) *watchLoop {
	return &watchLoop{q: q, rec: rec, min: d.cfg.WatchRetryMin, max: d.cfg.WatchRetryMax, logger: d.logger.With(attrs...)}
}

func (l *watchLoop) run(ctx context.Context) {
	var index uint64
	var wait time.Duration // before the next try; 0 while all is well
	for {
		msgs, last, err := l.q.poll(ctx, index)
		if err == nil && len(msgs) > 0 {
			if rerr := l.rec.Record(ctx, events.NewOrigin(), msgs...); rerr != nil {
				err = fmt.Errorf("could not record %d changes: %w", len(msgs), rerr)
			}
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if wait == 0 {
				wait = l.min
				l.logger.WarnContext(ctx, "consul watch failing; retrying", "error", err, "retry_in", wait)
			} else {
				wait = min(2*wait, l.max)
				l.logger.DebugContext(ctx, "consul watch still failing", "error", err, "retry_in", wait)
			}
			// After a failure the next query answers at once: the agent may have restarted with
			// a lower index, which a blocking query would wait on for the whole wait time.
			index = 0
			if !sleep(ctx, wait) {
				return
			}
			continue
		}
		if wait != 0 {
			l.logger.InfoContext(ctx, "consul watch recovered")
			wait = 0
		}
		l.q.commit()
		index = nextIndex(index, last)
	}
}

// nextIndex is the index to wait on after an answer at last, following Consul's advice for
// blocking queries: an index that went backwards (the agent restarted, a snapshot was restored)
// starts over at 0, and 0 is never waited on as such (it would answer at once, forever).
func nextIndex(prev, last uint64) uint64 {
	switch {
	case last < prev:
		return 0
	case last == 0:
		return 1
	}
	return last
}

// sleep waits d, reporting false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// kvQuery lists the keys under a prefix.
type kvQuery struct {
	kv                KV
	prefix, adapterID string
	wait              time.Duration
	seen, answer      kvSnapshot // seen is nil until the first answer is committed
}

func (q *kvQuery) poll(ctx context.Context, index uint64) ([]events.Message, uint64, error) {
	pairs, meta, err := q.kv.List(q.prefix, (&api.QueryOptions{WaitIndex: index, WaitTime: q.wait}).WithContext(ctx))
	if err != nil {
		return nil, 0, fmt.Errorf("could not list keys under %q: %w", q.prefix, err)
	}
	q.answer = snapshotOf(pairs)
	return kvChanges(q.adapterID, q.seen, q.answer, meta.LastIndex, time.Now()), meta.LastIndex, nil
}

func (q *kvQuery) commit() { q.seen = q.answer }

// serviceQuery asks for a service's instances and their health.
type serviceQuery struct {
	health             Health
	service, adapterID string
	wait               time.Duration
	seen, answer       []events.ServiceInstance // seen is nil until the first answer is committed
}

func (q *serviceQuery) poll(ctx context.Context, index uint64) ([]events.Message, uint64, error) {
	entries, meta, err := q.health.Service(q.service, "", false, (&api.QueryOptions{WaitIndex: index, WaitTime: q.wait}).WithContext(ctx))
	if err != nil {
		return nil, 0, fmt.Errorf("could not ask for the instances of service %q: %w", q.service, err)
	}
	q.answer = instancesOf(entries)
	return serviceChanges(q.adapterID, q.service, q.seen, q.answer, time.Now()), meta.LastIndex, nil
}

func (q *serviceQuery) commit() { q.seen = q.answer }

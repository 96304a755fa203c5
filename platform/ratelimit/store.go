package ratelimit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// store keeps the buckets' tats. take decides a request against checks and keeps what decide
// moved, atomically; a request with an id that was admitted before is admitted again without
// being counted (charged: true).
type store interface {
	take(ctx context.Context, id string, checks []check) (verdicts []Verdict, refused, charged bool, err error)
	// purge forgets buckets full since before and charges older than before.
	purge(ctx context.Context, before time.Time) error
}

// pgStore keeps the buckets in rate_limit_state, shared by every process on the database. Time
// is the database's clock (clock_timestamp, read once the rows are locked), so processes whose
// clocks disagree still share one limit exactly.
type pgStore struct{ db pgtx.Beginner }

func (s pgStore) take(ctx context.Context, id string, checks []check) (verdicts []Verdict, refused, charged bool, err error) {
	// Rows are locked in key order, so that two requests never wait for each other's rows.
	order := slices.Clone(checks)
	slices.SortFunc(order, func(a, b check) int { return strings.Compare(a.bucket, b.bucket) })
	order = slices.CompactFunc(order, func(a, b check) bool { return a.bucket == b.bucket })
	keys := make([]string, len(order))
	for i, c := range order {
		keys[i] = c.bucket
	}
	err = pgtx.Run(ctx, s.db, func(tx pgx.Tx) error {
		if id != "" {
			tag, err := tx.Exec(ctx, `INSERT INTO rate_limit_charges (request_id) VALUES ($1) ON CONFLICT DO NOTHING`, id)
			if err != nil {
				return fmt.Errorf("could not record the charge of %s: %w", id, err)
			}
			if tag.RowsAffected() == 0 {
				charged = true
				return nil
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO rate_limit_state (key, tat) SELECT k, 'epoch' FROM unnest($1::text[]) AS k
			ON CONFLICT DO NOTHING`, keys); err != nil {
			return fmt.Errorf("could not make the rate limit buckets: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT key, tat, clock_timestamp() FROM rate_limit_state WHERE key = ANY($1)
			ORDER BY key COLLATE "C" FOR UPDATE`, keys)
		if err != nil {
			return fmt.Errorf("could not read the rate limit buckets: %w", err)
		}
		stored := map[string]time.Time{}
		var now time.Time
		for rows.Next() {
			var k string
			var tat time.Time
			if err := rows.Scan(&k, &tat, &now); err != nil {
				rows.Close()
				return fmt.Errorf("could not read the rate limit buckets: %w", err)
			}
			stored[k] = tat
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("could not read the rate limit buckets: %w", err)
		}
		if now.IsZero() {
			if err := tx.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&now); err != nil {
				return fmt.Errorf("could not read the database's clock: %w", err)
			}
		}
		tats := make([]time.Time, len(checks))
		for i, c := range checks {
			tats[i] = stored[c.bucket]
		}
		var next []time.Time
		var write []bool
		verdicts, next, write, refused = decide(now, checks, tats)
		var upKeys []string
		var upTats []time.Time
		for i, c := range checks {
			if write[i] {
				upKeys, upTats = append(upKeys, c.bucket), append(upTats, next[i])
			}
		}
		if len(upKeys) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO rate_limit_state (key, tat) SELECT * FROM unnest($1::text[], $2::timestamptz[])
				ON CONFLICT (key) DO UPDATE SET tat = EXCLUDED.tat`, upKeys, upTats); err != nil {
				return fmt.Errorf("could not update the rate limit buckets: %w", err)
			}
		}
		if refused && id != "" {
			// Only admitted requests are charged: a refused one is recorded as rejected by its
			// caller, and decided again if that record is lost.
			if _, err := tx.Exec(ctx, `DELETE FROM rate_limit_charges WHERE request_id = $1`, id); err != nil {
				return fmt.Errorf("could not forget the charge of %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, false, fmt.Errorf("could not check the rate limits: %w", err)
	}
	return verdicts, refused, charged, nil
}

func (s pgStore) purge(ctx context.Context, before time.Time) error {
	return pgtx.Run(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM rate_limit_state WHERE tat < $1`, before); err != nil {
			return fmt.Errorf("could not purge the rate limit buckets: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM rate_limit_charges WHERE charged_at < $1`, before); err != nil {
			return fmt.Errorf("could not purge the rate limit charges: %w", err)
		}
		return nil
	})
}

// memoryStore keeps the buckets in the process: for the HTTP server's limits, which guard this
// process's own server, and for tests of the algorithm with a fake clock.
type memoryStore struct {
	now     func() time.Time
	mu      sync.Mutex
	tats    map[string]time.Time
	charges map[string]time.Time
}

func newMemoryStore(now func() time.Time) *memoryStore {
	return &memoryStore{now: now, tats: map[string]time.Time{}, charges: map[string]time.Time{}}
}

func (s *memoryStore) take(_ context.Context, id string, checks []check) ([]Verdict, bool, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if id != "" {
		if _, ok := s.charges[id]; ok {
			return nil, false, true, nil
		}
	}
	tats := make([]time.Time, len(checks))
	for i, c := range checks {
		tats[i] = s.tats[c.bucket]
	}
	verdicts, next, write, refused := decide(now, checks, tats)
	for i, c := range checks {
		if write[i] {
			s.tats[c.bucket] = next[i]
		}
	}
	if id != "" && !refused {
		s.charges[id] = now
	}
	return verdicts, refused, false, nil
}

func (s *memoryStore) purge(_ context.Context, before time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, tat := range s.tats {
		if tat.Before(before) {
			delete(s.tats, k)
		}
	}
	for k, at := range s.charges {
		if at.Before(before) {
			delete(s.charges, k)
		}
	}
	return nil
}

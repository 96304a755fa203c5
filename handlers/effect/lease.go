package effect

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// Ownership: each target is owned by one adapter process at a time, under a lease in
// target_leases that the owner renews every LeaseTTL/3. Only the owner probes the target and
// executes its commands; a command that reaches another process is handed on to the owner through
// handed_commands. The processes of one adapter share its targets: each counts the live members
// (adapter_members) and holds at most its share, ceil(targets/members), taking free targets it
// prefers (rendezvous hashing, so the assignment is stable) and letting go of those above its share.
// A lease that runs out — its owner died or lost the control database — is taken by another
// process within LeaseTTL and a renewal interval. Every change of owner is a TargetOwnershipChanged
// event, recorded in the transaction that changes the lease.

// defaultMember names this process among its adapter's processes: host, pid and a random suffix,
// so that a restarted process is a new member whose predecessor's leases run out.
func defaultMember() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// lease is a target this process owns.
type lease struct {
	token int64
	// until is when this process stops acting as the owner unless it renews first: a quarter of
	// the TTL before the lease runs out in the database, measured from before the renewal was
	// sent, so that no other process can own the target while this one still acts.
	until time.Time
}

// leases are the targets this process owns.
type leases struct {
	mu   sync.Mutex
	held map[string]lease
}

// token is target's lease token while this process owns it.
func (l *leases) token(target string) (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	le, ok := l.held[target]
	if !ok || !time.Now().Before(le.until) {
		return 0, false
	}
	return le.token, true
}

func (l *leases) owned() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.held))
	now := time.Now()
	for t, le := range l.held {
		if now.Before(le.until) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

func (l *leases) set(target string, le lease) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held[target] = le
}

func (l *leases) drop(target string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.held, target)
}

// Owns says whether this process owns target now.
func (a *Adapter) Owns(target string) bool {
	_, ok := a.leases.token(target)
	return ok
}

// Member is this process's name among its adapter's processes.
func (a *Adapter) Member() string { return a.cfg.Member }

// score is how much member prefers target (rendezvous hashing).
func score(member, target string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(member))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(target))
	return h.Sum64()
}

// keepLeases renews, takes and lets go of leases until ctx ends, then lets go of every lease it
// holds, so that the other processes take the targets at once rather than after the TTL. tick is
// called after each round (the probe schedule waits for the first).
func (a *Adapter) keepLeases(ctx context.Context, first chan<- struct{}) error {
	ticker := time.NewTicker(a.cfg.LeaseTTL / 3)
	defer ticker.Stop()
	defer a.releaseAll()
	for {
		if err := a.leaseRound(ctx); err != nil && ctx.Err() == nil {
			a.logger.WarnContext(ctx, "could not keep the target leases", "member", a.cfg.Member, "error", err)
		}
		if first != nil {
			close(first)
			first = nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// leaseRound is one round: heartbeat, renew, then take or let go towards this process's share.
func (a *Adapter) leaseRound(ctx context.Context) error {
	start := time.Now()
	ttl := a.cfg.LeaseTTL
	var members int
	err := pgtx.Run(ctx, a.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO adapter_members (adapter, member, expires_at)
			VALUES ($1, $2, now() + make_interval(secs => $3)) ON CONFLICT (adapter, member) DO UPDATE SET expires_at = excluded.expires_at`,
			a.d.Adapter(), a.cfg.Member, ttl.Seconds()); err != nil {
			return fmt.Errorf("could not say this process is alive: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM adapter_members WHERE adapter = $1 AND expires_at < now() - interval '1 minute'`,
			a.d.Adapter()); err != nil {
			return fmt.Errorf("could not forget dead members: %w", err)
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM adapter_members WHERE adapter = $1 AND expires_at > now()`,
			a.d.Adapter()).Scan(&members)
	})
	if err != nil {
		return err
	}
	if err := a.renew(ctx, start); err != nil {
		return err
	}
	share := (len(a.targets) + max(members, 1) - 1) / max(members, 1)
	owned := a.leases.owned()
	if extra := len(owned) - share; extra > 0 {
		slices.SortFunc(owned, func(x, y string) int { return cmp.Compare(score(a.cfg.Member, x), score(a.cfg.Member, y)) })
		for _, t := range owned[:extra] {
			if err := a.release(ctx, t); err != nil {
				return err
			}
		}
		return nil
	}
	if len(owned) >= share {
		return nil
	}
	free, err := a.freeTargets(ctx)
	if err != nil {
		return err
	}
	slices.SortFunc(free, func(x, y string) int { return cmp.Compare(score(a.cfg.Member, y), score(a.cfg.Member, x)) })
	for _, t := range free {
		if len(a.leases.owned()) >= share {
			break
		}
		if err := a.acquire(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// renew extends every lease this process holds; those it no longer holds in the database (another
// process took them after they ran out) are dropped.
func (a *Adapter) renew(ctx context.Context, start time.Time) error {
	held := a.heldIDs()
	if len(held) == 0 {
		return nil
	}
	rows, err := a.db.Query(ctx, `UPDATE target_leases SET expires_at = now() + make_interval(secs => $3)
		WHERE adapter_id = ANY($1) AND owner = $2 RETURNING adapter_id, token`, held, a.cfg.Member, a.cfg.LeaseTTL.Seconds())
	if err != nil {
		return fmt.Errorf("could not renew the target leases: %w", err)
	}
	renewed := map[string]int64{}
	for rows.Next() {
		var id string
		var token int64
		if err := rows.Scan(&id, &token); err != nil {
			rows.Close()
			return fmt.Errorf("could not read the renewed leases: %w", err)
		}
		renewed[id] = token
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("could not renew the target leases: %w", err)
	}
	for _, t := range a.targets {
		id := events.AdapterID(a.d.Adapter(), t)
		if !slices.Contains(held, id) {
			continue
		}
		if token, ok := renewed[id]; ok {
			a.leases.set(t, lease{token: token, until: a.leaseUntil(start)})
			continue
		}
		a.leases.drop(t)
		a.logger.WarnContext(ctx, "lost a target to another process", "adapter_id", id, "member", a.cfg.Member)
	}
	return nil
}

func (a *Adapter) leaseUntil(start time.Time) time.Time {
	return start.Add(a.cfg.LeaseTTL - a.cfg.LeaseTTL/4)
}

// heldIDs are the adapter ids of the leases this process holds, valid or not.
func (a *Adapter) heldIDs() []string {
	a.leases.mu.Lock()
	defer a.leases.mu.Unlock()
	ids := make([]string, 0, len(a.leases.held))
	for t := range a.leases.held {
		ids = append(ids, events.AdapterID(a.d.Adapter(), t))
	}
	return ids
}

// freeTargets are the configured targets no other process holds a live lease on, and this one
// does not hold.
func (a *Adapter) freeTargets(ctx context.Context) ([]string, error) {
	ids := make([]string, len(a.targets))
	for i, t := range a.targets {
		ids[i] = events.AdapterID(a.d.Adapter(), t)
	}
	// A lease this member holds without knowing it is its previous incarnation's: free to take.
	rows, err := a.db.Query(ctx, `SELECT adapter_id FROM target_leases WHERE adapter_id = ANY($1) AND expires_at > now()
		AND owner <> $2`, ids, a.cfg.Member)
	if err != nil {
		return nil, fmt.Errorf("could not read the target leases: %w", err)
	}
	taken, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("could not read the target leases: %w", err)
	}
	held := a.heldIDs()
	var free []string
	for i, t := range a.targets {
		if !slices.Contains(taken, ids[i]) && !slices.Contains(held, ids[i]) {
			free = append(free, t)
		}
	}
	return free, nil
}

// acquire takes target's lease if it is still free, loads the breaker its previous owner recorded
// and fences it with the new token, and records the change of owner, all in one transaction.
func (a *Adapter) acquire(ctx context.Context, target string) error {
	id := a.adapterID(target)
	start := time.Now()
	var (
		got     bool
		token   int64
		circuit = closedCircuit()
	)
	err := pgtx.Run(ctx, a.db, func(tx pgx.Tx) error {
		got = false
		var prev string
		var expired bool
		err := tx.QueryRow(ctx, `SELECT owner, token, expires_at <= now() FROM target_leases WHERE adapter_id = $1 FOR UPDATE`,
			id).Scan(&prev, &token, &expired)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			tag, err := tx.Exec(ctx, `INSERT INTO target_leases (adapter_id, owner, token, expires_at)
				VALUES ($1, $2, 1, now() + make_interval(secs => $3)) ON CONFLICT (adapter_id) DO NOTHING`, id, a.cfg.Member, a.cfg.LeaseTTL.Seconds())
			if err != nil || tag.RowsAffected() == 0 {
				return err // another process got there first
			}
			token = 1
		case err != nil:
			return err
		case !expired && prev != a.cfg.Member:
			return nil
		default:
			// Free, or held by this member's previous incarnation (a process restarted under the
			// same --adapter-member): taken at once, with a new token.
			token++
			if _, err := tx.Exec(ctx, `UPDATE target_leases SET owner = $2, token = $3, acquired_at = now(),
				expires_at = now() + make_interval(secs => $4) WHERE adapter_id = $1`, id, a.cfg.Member, token, a.cfg.LeaseTTL.Seconds()); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, `SELECT circuit FROM target_breakers WHERE adapter_id = $1 FOR UPDATE`, id).Scan(&circuit); err != nil &&
			!errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("could not read the breaker of %s: %w", id, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO target_breakers (adapter_id, circuit, owner_token) VALUES ($1, $2, $3)
			ON CONFLICT (adapter_id) DO UPDATE SET owner_token = excluded.owner_token, updated_at = now()`, id, circuit, token); err != nil {
			return fmt.Errorf("could not fence the breaker of %s: %w", id, err)
		}
		reason := events.OwnershipAcquired
		if prev != "" && prev != a.cfg.Member {
			reason = events.OwnershipTakenOver
		}
		if err := a.publish(ctx, tx, events.NewOrigin(), events.TargetOwnershipChanged{AdapterID: id, Owner: a.cfg.Member,
			Previous: prev, Token: token, Reason: reason, ChangedAt: a.now()}); err != nil {
			return err
		}
		got = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("could not take the lease of %s: %w", id, err)
	}
	if !got {
		return nil
	}
	a.breakers.load(target, circuit)
	a.leases.set(target, lease{token: token, until: a.leaseUntil(start)})
	a.logger.InfoContext(ctx, "owns a target", "adapter_id", id, "member", a.cfg.Member, "token", token,
		"breaker", circuit.State)
	a.wakeHanded()
	return nil
}

// release lets go of target: this process stops acting as its owner first, then ends the lease
// and records it.
func (a *Adapter) release(ctx context.Context, target string) error {
	token, ok := a.leases.token(target)
	a.leases.drop(target)
	if !ok {
		return nil
	}
	id := a.adapterID(target)
	err := pgtx.Run(ctx, a.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE target_leases SET owner = '', expires_at = now()
			WHERE adapter_id = $1 AND owner = $2 AND token = $3`, id, a.cfg.Member, token)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return a.publish(ctx, tx, events.NewOrigin(), events.TargetOwnershipChanged{AdapterID: id, Previous: a.cfg.Member,
			Token: token, Reason: events.OwnershipReleased, ChangedAt: a.now()})
	})
	if err != nil {
		return fmt.Errorf("could not let go of %s: %w", id, err)
	}
	a.logger.InfoContext(ctx, "let go of a target", "adapter_id", id, "member", a.cfg.Member)
	return nil
}

// releaseAll lets go of every target and leaves the members, as the process stops: the calls in
// flight have ended (Run waits for the probes; the router for the commands).
func (a *Adapter) releaseAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, t := range a.leases.owned() {
		if err := a.release(ctx, t); err != nil {
			a.logger.WarnContext(ctx, "could not let go of a target; it is free once its lease runs out", "error", err)
		}
	}
	if _, err := a.db.Exec(ctx, `DELETE FROM adapter_members WHERE adapter = $1 AND member = $2`, a.d.Adapter(), a.cfg.Member); err != nil {
		a.logger.WarnContext(ctx, "could not leave the adapter's members", "error", err)
	}
}

// publish encodes msgs and writes them to the outbox in tx.
func (a *Adapter) publish(ctx context.Context, tx pgx.Tx, origin events.Origin, msgs ...events.Message) error {
	at := a.now()
	encoded := make([]*message.Message, len(msgs))
	for i, m := range msgs {
		msg, err := events.Encode(m, origin, at)
		if err != nil {
			return err
		}
		encoded[i] = msg
	}
	return outbox.PublishSealed(ctx, tx, a.cfg.Sealer, a.cfg.EventsTopic, encoded...)
}

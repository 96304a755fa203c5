package infrastate

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// bulk folds every settled event after the replay's position into the shadow table, committing
// every BatchSize events. It runs in three stages, each in its own goroutine and a page apart:
// one reads the next page of the log while another decodes the page before it and the third
// folds and saves the one before that, so that the database, the decoding and the fold use the
// cores at once. The log is read again from where the last read ended until a read finds
// nothing, each read with its own snapshot, so that transactions that settle meanwhile are folded
// here rather than under the live table's lock. All three stages have ended when it returns.
func (r *replay) bulk(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	read := make(chan []logged, 1)
	ready := make(chan []decoded, 1)
	g.Go(func() error {
		defer close(read)
		after := r.last
		for {
			var n int
			err := pgtx.Run(gctx, r.cfg.DB, func(tx pgx.Tx) error {
				var err error
				n, err = r.readAll(gctx, tx, after, true, func(page []logged) error {
					after = page[len(page)-1].pos
					select {
					case read <- page:
						return nil
					case <-gctx.Done():
						return gctx.Err()
					}
				})
				return err
			})
			if err != nil || n == 0 {
				return err
			}
		}
	})
	g.Go(func() error {
		defer close(ready)
		for page := range read {
			d, err := r.decodePage(gctx, page)
			if err != nil {
				return err
			}
			select {
			case ready <- d:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	g.Go(func() error {
		pending := 0
		for page := range ready {
			r.fold(page)
			if pending += len(page); pending >= r.cfg.BatchSize {
				if err := r.commit(gctx); err != nil {
					return err
				}
				pending = 0
			}
		}
		if pending == 0 {
			return nil
		}
		return r.commit(gctx)
	})
	return g.Wait()
}

// catchUp folds, inside tx, what the live projection applied since bulk read the log.
func (r *replay) catchUp(ctx context.Context, tx pgx.Tx) error {
	_, err := r.readAll(ctx, tx, r.last, false, func(page []logged) error {
		d, err := r.decodePage(ctx, page)
		if err != nil {
			return err
		}
		r.fold(d)
		return nil
	})
	if err != nil {
		return err
	}
	if err := r.save(ctx, tx); err != nil {
		return err
	}
	r.progress()
	return nil
}

// fold folds page, in order, into the replay's states and moves its position to the page's end.
func (r *replay) fold(page []decoded) {
	for _, d := range page {
		if d.m == nil {
			r.missing++
			continue
		}
		key := d.m.Key()
		before, ok := r.states[key]
		if !ok {
			before = NewState(key)
		}
		after, _ := r.cfg.Reducer.reduceOwned(before, d.env, d.m)
		if !statesEqual(before, after) {
			r.states[key] = after
			r.dirty[key] = d.env.ID
		}
		r.folded++
	}
	if len(page) > 0 {
		r.last = page[len(page)-1].pos
	}
}

// commit saves the fold so far in a transaction of its own.
func (r *replay) commit(ctx context.Context) error {
	err := pgtx.Run(ctx, r.cfg.DB, func(tx pgx.Tx) error {
		if err := asyncCommit(ctx, tx); err != nil {
			return err
		}
		return r.save(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("could not save the replay's progress: %w", err)
	}
	r.progress()
	return nil
}

// asyncCommit lets tx commit without waiting for its WAL to reach the disk. The replay's own
// transactions do so: a crash may lose the last of them, but never part of one, and a replay that
// lost some goes on from the position the rest recorded, with the states that go with it. Only
// the swap waits.
func asyncCommit(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
		return fmt.Errorf("could not set synchronous_commit: %w", err)
	}
	return nil
}

// save writes the targets changed since the last save into the shadow table, and the replay's
// position with them, inside tx.
func (r *replay) save(ctx context.Context, tx pgx.Tx) error {
	if err := storeAllInto(ctx, tx, ShadowTable, r.states, r.dirty); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE projection_replays SET last_transaction = $2::text::xid8, last_seq = $3,
		folded = $4, updated_at = now() WHERE projection = $1`, ConsumerName, r.last.xid, r.last.seq, r.folded); err != nil {
		return fmt.Errorf("could not record the replay's progress: %w", err)
	}
	clear(r.dirty)
	return nil
}

func (r *replay) progress() {
	if r.cfg.Progress != nil {
		// The events the source lacks were counted in the total but are never folded.
		r.cfg.Progress(Progress{Folded: r.folded, Total: max(r.total-r.missing, r.folded)})
	}
}

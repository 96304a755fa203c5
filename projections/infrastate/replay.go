package infrastate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/bus"
	"github.com/omninode/omnibase-infra/internal/pgtx"
)

// Tables of the projection. A replay builds ShadowTable and swaps it with LiveTable; the table
// it replaced stays as PreviousTable until the next swap.
const (
	LiveTable     = "infrastructure_state"
	ShadowTable   = "infrastructure_state_replay"
	PreviousTable = "infrastructure_state_previous"
)

// replayLock is the advisory lock one replay of this projection holds while it runs.
const replayLock int64 = 0x696e667261737461 // "infrasta"

// ReplayConfig configures Replay.
type ReplayConfig struct {
	// DB is the control database. Required.
	DB *pgxpool.Pool
	// Registry decodes the logged events (with their upcasters). Required.
	Registry *events.Registry
	// Reducer folds them; it must be configured as the live projection's is.
	Reducer Reducer
	// BatchSize is how many events are folded per transaction. Default 10000.
	BatchSize int
	// Verify compares the rebuilt state with the live one instead of swapping it in.
	Verify bool
	// FromKafka, when set, reads the events from this Kafka topic's earliest offset instead of
	// the event log.
	FromKafka *KafkaSource
	// Progress, when set, is called after every batch.
	Progress func(Progress)
	Logger   *slog.Logger
}

// KafkaSource is a topic to replay from.
type KafkaSource struct {
	Brokers []string
	Topic   string
}

// Progress is how far a replay is.
type Progress struct {
	Folded, Total int64
}

// ReplayResult is what a replay did.
type ReplayResult struct {
	// Folded is how many events the shadow table holds the fold of (a resumed replay counts the
	// ones folded before the interruption too).
	Folded int64
	// Resumed is true when the replay went on from where an interrupted one stopped.
	Resumed bool
	// Missing counts events the live projection applied that are not in the event log (from
	// before the log existed, or trimmed by its retention): the rebuilt state cannot reflect them.
	Missing int64
	// Swapped is true when the rebuilt table replaced the live one.
	Swapped bool
	// Differences between the rebuilt and the live state (Verify only).
	Differences []Difference
}

// Difference is one field on which the rebuilt and the live state of a target disagree.
type Difference struct {
	AdapterID string `json:"adapter_id"`
	// Field is a path into the state's JSON ("consecutive_failures", "pool.max"); empty when the
	// whole target is missing from one side.
	Field    string `json:"field,omitempty"`
	Live     string `json:"live"`
	Replayed string `json:"replayed"`
}

// ErrReplayRunning is returned when another replay of the projection holds its lock.
var ErrReplayRunning = errors.New("another replay of the infrastate projection is running")

// position is a place in the order the live projection applied events.
type position struct {
	xid string
	seq int64
}

// Replay rebuilds the projection from the event log into ShadowTable, in exactly the order the
// live projection applied the events (processed_messages' transaction id, then seq), while the
// live projection keeps running. It then locks the live table, folds what the live projection
// applied meanwhile, and swaps the tables in the same transaction — or, with Verify, compares
// them. An interrupted replay resumes from its last committed batch; two replays never run at
// once.
func Replay(ctx context.Context, cfg ReplayConfig) (ReplayResult, error) {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 10000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var res ReplayResult
	lockConn, err := cfg.DB.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("could not connect for the replay lock: %w", err)
	}
	defer lockConn.Release()
	var locked bool
	if err := lockConn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, replayLock).Scan(&locked); err != nil {
		return res, fmt.Errorf("could not take the replay lock: %w", err)
	}
	if !locked {
		return res, ErrReplayRunning
	}
	defer func() { _, _ = lockConn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, replayLock) }()

	r := &replay{cfg: cfg, states: map[string]TargetState{}, dirty: map[string]string{}, source: "event_log"}
	if cfg.FromKafka != nil {
		r.source = "replay_source"
	}
	if res.Resumed, err = r.begin(ctx); err != nil {
		return res, err
	}
	if err := r.importKafka(ctx, cfg.DB); err != nil {
		return res, err
	}
	if err := r.count(ctx, &res); err != nil {
		return res, err
	}
	// The bulk of the work, batch by batch, only over transactions that have all ended.
	for {
		n, err := r.batch(ctx, cfg.DB, true)
		if err != nil {
			return res, err
		}
		if n == 0 {
			break
		}
	}
	// Catch up and swap (or compare) under the live table's lock.
	err = pgtx.Run(ctx, cfg.DB, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '30s'`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `LOCK TABLE `+LiveTable+` IN ACCESS EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("could not lock %s: %w", LiveTable, err)
		}
		// What the live projection applied since the import is on the topic by now.
		if err := r.importKafka(ctx, tx); err != nil {
			return err
		}
		for {
			n, err := r.batchIn(ctx, tx, false)
			if err != nil {
				return err
			}
			if n == 0 {
				break
			}
		}
		if cfg.Verify {
			res.Differences, err = compareTables(ctx, tx, LiveTable, ShadowTable)
			return err
		}
		for _, stmt := range []string{
			`DROP TABLE IF EXISTS ` + PreviousTable,
			`ALTER TABLE ` + LiveTable + ` RENAME TO ` + PreviousTable,
			`ALTER TABLE ` + ShadowTable + ` RENAME TO ` + LiveTable,
			`DELETE FROM projection_replays WHERE projection = '` + ConsumerName + `'`,
		} {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("could not swap the replayed table in (%s): %w", stmt, err)
			}
		}
		res.Swapped = true
		return nil
	})
	res.Folded = r.folded
	if err != nil {
		return res, fmt.Errorf("could not finish the replay: %w", err)
	}
	return res, nil
}

type replay struct {
	cfg ReplayConfig
	// source is the table the events are read from: event_log, or replay_source for Kafka.
	source string
	// read is where the Kafka import stopped, per partition.
	read   map[int32]int64
	last   position
	folded int64
	total  int64
	states map[string]TargetState
	// dirty maps the targets changed by the current batch to the id of the last event folded.
	dirty map[string]string
}

// begin starts a new replay into a fresh shadow table, or resumes the interrupted one.
func (r *replay) begin(ctx context.Context) (bool, error) {
	var xid string
	err := r.cfg.DB.QueryRow(ctx, `SELECT last_transaction::text, last_seq, folded FROM projection_replays
		WHERE projection = $1 AND to_regclass($2) IS NOT NULL`, ConsumerName, ShadowTable).Scan(&xid, &r.last.seq, &r.folded)
	if err == nil {
		r.last.xid = xid
		rows, err := r.cfg.DB.Query(ctx, `SELECT data FROM `+ShadowTable)
		if err != nil {
			return false, fmt.Errorf("could not read %s to resume: %w", ShadowTable, err)
		}
		states, err := pgx.CollectRows(rows, rowToState)
		if err != nil {
			return false, fmt.Errorf("could not read %s to resume: %w", ShadowTable, err)
		}
		for _, s := range states {
			r.states[s.AdapterID] = s
		}
		r.cfg.Logger.InfoContext(ctx, "resuming the interrupted replay", "folded", r.folded, "targets", len(states))
		return true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("could not read the replay's progress: %w", err)
	}
	r.last = position{xid: "0"}
	return false, pgtx.Run(ctx, r.cfg.DB, func(tx pgx.Tx) error {
		for _, stmt := range []string{
			`TRUNCATE replay_source`,
			`DROP TABLE IF EXISTS ` + ShadowTable,
			`CREATE TABLE ` + ShadowTable + ` (LIKE ` + LiveTable + ` INCLUDING ALL)`,
			`DELETE FROM projection_replays WHERE projection = '` + ConsumerName + `'`,
			`INSERT INTO projection_replays (projection, shadow_table, source, last_transaction, last_seq)
				VALUES ('` + ConsumerName + `', '` + ShadowTable + `', '` + r.source + `', '0', 0)`,
		} {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("could not prepare %s: %w", ShadowTable, err)
			}
		}
		return nil
	})
}

// count reads how many events there are to fold and how many the log lacks.
func (r *replay) count(ctx context.Context, res *ReplayResult) error {
	err := r.cfg.DB.QueryRow(ctx, `SELECT count(l.event_id), count(*) FILTER (WHERE l.event_id IS NULL)
		FROM processed_messages pm LEFT JOIN `+r.source+` l ON l.event_id = pm.message_id
		WHERE pm.consumer = $1`, ConsumerName).Scan(&r.total, &res.Missing)
	if err != nil {
		return fmt.Errorf("could not count the events to replay: %w", err)
	}
	if res.Missing > 0 {
		r.cfg.Logger.WarnContext(ctx, "events the live projection applied are not in the source; the replay cannot reflect them",
			"source", r.source,
			"missing", res.Missing)
	}
	return nil
}

// importKafka copies the topic's records not read yet into replay_source.
func (r *replay) importKafka(ctx context.Context, db pgtx.Executor) error {
	src := r.cfg.FromKafka
	if src == nil {
		return nil
	}
	batch := &pgx.Batch{}
	flush := func() error {
		if batch.Len() == 0 {
			return nil
		}
		err := db.SendBatch(ctx, batch).Close()
		batch = &pgx.Batch{}
		if err != nil {
			return fmt.Errorf("could not store records of %s: %w", src.Topic, err)
		}
		return nil
	}
	ends, n, err := bus.ReadTopic(ctx, src.Brokers, src.Topic, r.read, func(msg *message.Message) error {
		batch.Queue(`INSERT INTO replay_source (event_id, metadata, payload) VALUES ($1, $2, $3)
			ON CONFLICT (event_id) DO NOTHING`, msg.UUID, msg.Metadata, []byte(msg.Payload))
		if batch.Len() >= 1000 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("could not read %s from Kafka: %w", src.Topic, err)
	}
	r.read = ends
	r.cfg.Logger.InfoContext(ctx, "read the events topic", "topic", src.Topic, "records", n)
	return nil
}

func (r *replay) batch(ctx context.Context, db *pgxpool.Pool, settledOnly bool) (int, error) {
	var n int
	err := pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		var err error
		n, err = r.batchIn(ctx, tx, settledOnly)
		return err
	})
	return n, err
}

// batchIn folds the next batch of applied events into the shadow table inside tx. settledOnly
// keeps to transactions older than every running one, whose rows can no longer change.
func (r *replay) batchIn(ctx context.Context, tx pgx.Tx, settledOnly bool) (int, error) {
	rows, err := tx.Query(ctx, `
		SELECT pm.transaction_id::text, pm.seq, l.event_id, l.metadata, l.payload
		FROM processed_messages pm JOIN `+r.source+` l ON l.event_id = pm.message_id
		WHERE pm.consumer = $1 AND (pm.transaction_id, pm.seq) > ($2::text::xid8, $3)
		  AND (NOT $4 OR pm.transaction_id < pg_snapshot_xmin(pg_current_snapshot()))
		ORDER BY pm.transaction_id, pm.seq
		LIMIT $5`, ConsumerName, r.last.xid, r.last.seq, settledOnly, r.cfg.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("could not read the event log: %w", err)
	}
	type logged struct {
		pos     position
		id      string
		meta    message.Metadata
		payload []byte
	}
	batch, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (logged, error) {
		var l logged
		err := row.Scan(&l.pos.xid, &l.pos.seq, &l.id, &l.meta, &l.payload)
		return l, err
	})
	if err != nil {
		return 0, fmt.Errorf("could not read the event log: %w", err)
	}
	if len(batch) == 0 {
		return 0, nil
	}
	clear(r.dirty)
	for _, l := range batch {
		msg := message.NewMessage(l.id, l.payload)
		msg.Metadata = l.meta
		env, m, err := r.cfg.Registry.Decode(msg)
		if err != nil {
			return 0, fmt.Errorf("could not decode logged event %s that the live projection applied: %w", l.id, err)
		}
		key := m.Key()
		before, ok := r.states[key]
		if !ok {
			before = NewState(key)
		}
		after, _ := r.cfg.Reducer.Reduce(before, env, m)
		if !statesEqual(before, after) {
			r.states[key] = after
			r.dirty[key] = env.ID
		}
	}
	r.last = batch[len(batch)-1].pos
	r.folded += int64(len(batch))
	for _, key := range slices.Sorted(maps.Keys(r.dirty)) {
		if err := storeInto(ctx, tx, ShadowTable, r.states[key], r.dirty[key]); err != nil {
			return 0, err
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE projection_replays SET last_transaction = $2::text::xid8, last_seq = $3,
		folded = $4, updated_at = now() WHERE projection = $1`, ConsumerName, r.last.xid, r.last.seq, r.folded); err != nil {
		return 0, fmt.Errorf("could not record the replay's progress: %w", err)
	}
	if r.cfg.Progress != nil {
		r.cfg.Progress(Progress{Folded: r.folded, Total: max(r.total, r.folded)})
	}
	return len(batch), nil
}

// compareTables lists every field on which two state tables disagree.
func compareTables(ctx context.Context, q pgtx.Querier, live, replayed string) ([]Difference, error) {
	read := func(table string) (map[string]map[string]any, error) {
		rows, err := q.Query(ctx, `SELECT adapter_id, data FROM `+table)
		if err != nil {
			return nil, fmt.Errorf("could not read %s: %w", table, err)
		}
		out := map[string]map[string]any{}
		var id string
		var data map[string]any
		_, err = pgx.ForEachRow(rows, []any{&id, &data}, func() error {
			out[id] = flatten("", data, map[string]any{})
			data = nil
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("could not read %s: %w", table, err)
		}
		return out, nil
	}
	a, err := read(live)
	if err != nil {
		return nil, err
	}
	b, err := read(replayed)
	if err != nil {
		return nil, err
	}
	var diffs []Difference
	for _, id := range slices.Sorted(maps.Keys(union(a, b))) {
		la, inA := a[id]
		lb, inB := b[id]
		if !inA || !inB {
			diffs = append(diffs, Difference{AdapterID: id, Live: present(inA), Replayed: present(inB)})
			continue
		}
		for _, f := range slices.Sorted(maps.Keys(union(la, lb))) {
			va, vb := show(la[f]), show(lb[f])
			if va != vb {
				diffs = append(diffs, Difference{AdapterID: id, Field: f, Live: va, Replayed: vb})
			}
		}
	}
	return diffs, nil
}

func flatten(prefix string, m map[string]any, out map[string]any) map[string]any {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			flatten(prefix+k+".", sub, out)
			continue
		}
		out[prefix+k] = v
	}
	return out
}

func union[V any](a, b map[string]V) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func present(ok bool) string {
	if ok {
		return "present"
	}
	return "absent"
}

func show(v any) string {
	if v == nil {
		return "null"
	}
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

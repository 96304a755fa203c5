package infrastate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/bus"
	"github.com/omninode/omnibase-infra/platform/pgtx"
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

// DefaultReplayBatchSize is how many events a replay folds per transaction unless told otherwise.
const DefaultReplayBatchSize = 10000

// ReplayConfig configures Replay.
type ReplayConfig struct {
	// DB is the control database. Required.
	DB *pgxpool.Pool
	// Registry decodes the logged events (with their upcasters). Required.
	Registry *events.Registry
	// Reducer folds them; it must be configured as the live projection's is.
	Reducer Reducer
	// BatchSize is how many events are folded per transaction. Default DefaultReplayBatchSize.
	BatchSize int
	// Verify compares the rebuilt state with the live one instead of swapping it in.
	Verify bool
	// FromKafka, when set, reads the events from this Kafka topic's earliest offset instead of
	// the event log.
	FromKafka *KafkaSource
	// EventsTopic is the topic the live projection consumes: what the events' MACs and sealed
	// fields are bound to, when Registry opens them. Default events.DefaultTopics().Events
	// (FromKafka's Topic when set).
	EventsTopic string
	// Progress, when set, is called after every batch.
	Progress func(Progress)
	Logger   *slog.Logger
}

// KafkaSource is a topic to replay from.
type KafkaSource struct {
	Brokers []string
	// Security of the connections to Brokers (TLS, SASL). Default: plaintext, no authentication.
	Security bus.Security
	Topic    string
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
	// Resumed is true when the replay went on from the shadow table an earlier one left: one
	// interrupted, or a verify that ran to its end (AfterVerify).
	Resumed bool
	// AfterVerify is true when what the replay went on from was a completed verify, not an
	// interruption: nothing was interrupted.
	AfterVerify bool
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
		cfg.BatchSize = DefaultReplayBatchSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.EventsTopic == "" {
		cfg.EventsTopic = events.DefaultTopics().Events
		if cfg.FromKafka != nil {
			cfg.EventsTopic = cfg.FromKafka.Topic
		}
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
	r.query = readQuery(r.source)
	if res.Resumed, res.AfterVerify, err = r.begin(ctx); err != nil {
		return res, err
	}
	if err := r.importKafka(ctx, cfg.DB); err != nil {
		return res, err
	}
	if cfg.Progress != nil {
		if err := r.count(ctx); err != nil {
			return res, err
		}
	}
	// The bulk of the work, batch by batch, only over transactions that have all ended.
	if err := r.bulk(ctx); err != nil {
		return res, err
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
		if err := r.catchUp(ctx, tx); err != nil {
			return err
		}
		if res.Missing, err = r.countMissing(ctx, tx, res.Resumed); err != nil {
			return err
		}
		if cfg.Verify {
			if res.Differences, err = compareTables(ctx, tx, LiveTable, ShadowTable); err != nil {
				return err
			}
			// The shadow stays, for the next replay to go on from; marked so that replay knows it
			// goes on from a verify that ended, not from one that was interrupted.
			if _, err := tx.Exec(ctx, `COMMENT ON TABLE `+ShadowTable+` IS '`+verifiedMark+`'`); err != nil {
				return fmt.Errorf("could not mark %s verified: %w", ShadowTable, err)
			}
			return nil
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
	// query reads the source (see readAll).
	query string
	// read is where the Kafka import stopped, per partition.
	read   map[int32]int64
	last   position
	folded int64
	total  int64
	states map[string]TargetState
	// missing counts the events of this run the source lacks, to keep them out of the progress.
	missing int64
	// dirty maps the targets changed since the last save to the id of the last event folded.
	dirty map[string]string
}

// begin starts a new replay into a fresh shadow table, or resumes the interrupted one.
// verifiedMark is the comment a verify that ran to its end leaves on the shadow table.
// WARNING: it is cleared as soon as a replay goes on from the table, so that one interrupted
// after that is seen as interrupted.
const verifiedMark = "omni: verified replay"

// begin prepares the shadow table: it goes on from the one an earlier replay left (resumed, and
// afterVerify when that replay was a verify that ended), or starts a new one.
func (r *replay) begin(ctx context.Context) (resumed, afterVerify bool, err error) {
	var xid, mark string
	err = r.cfg.DB.QueryRow(ctx, `SELECT last_transaction::text, last_seq, folded, coalesce(obj_description(to_regclass($2), 'pg_class'), '')
		FROM projection_replays WHERE projection = $1 AND to_regclass($2) IS NOT NULL`, ConsumerName, ShadowTable).Scan(&xid, &r.last.seq, &r.folded, &mark)
	if err == nil {
		r.last.xid = xid
		rows, err := r.cfg.DB.Query(ctx, `SELECT data FROM `+ShadowTable)
		if err != nil {
			return false, false, fmt.Errorf("could not read %s to resume: %w", ShadowTable, err)
		}
		states, err := pgx.CollectRows(rows, rowToState)
		if err != nil {
			return false, false, fmt.Errorf("could not read %s to resume: %w", ShadowTable, err)
		}
		for _, s := range states {
			r.states[s.AdapterID] = s
		}
		if mark != verifiedMark {
			r.cfg.Logger.InfoContext(ctx, "resuming the interrupted replay", "folded", r.folded, "targets", len(states))
			return true, false, nil
		}
		r.cfg.Logger.DebugContext(ctx, "going on from the last verified replay", "folded", r.folded, "targets", len(states))
		if _, err := r.cfg.DB.Exec(ctx, `COMMENT ON TABLE `+ShadowTable+` IS NULL`); err != nil {
			return false, false, fmt.Errorf("could not unmark %s: %w", ShadowTable, err)
		}
		return true, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return false, false, fmt.Errorf("could not read the replay's progress: %w", err)
	}
	r.last = position{xid: "0"}
	return false, false, pgtx.Run(ctx, r.cfg.DB, func(tx pgx.Tx) error {
		if err := asyncCommit(ctx, tx); err != nil {
			return err
		}
		if r.cfg.FromKafka != nil {
			if _, err := tx.Exec(ctx, `TRUNCATE replay_source`); err != nil {
				return fmt.Errorf("could not empty replay_source: %w", err)
			}
		}
		for _, stmt := range []string{
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

// count reads how many events the live projection applied after the replay's position: with
// the ones folded before, the total the progress reports.
func (r *replay) count(ctx context.Context) error {
	var after int64
	err := r.cfg.DB.QueryRow(ctx, `SELECT count(*) FROM processed_messages
		WHERE consumer = $1 AND (transaction_id, seq) > ($2::text::xid8, $3)`, ConsumerName, r.last.xid, r.last.seq).Scan(&after)
	if err != nil {
		return fmt.Errorf("could not count the events to replay: %w", err)
	}
	r.total = r.folded + after
	return nil
}

// countMissing counts the events the live projection applied up to the replay's position that
// the source lacks (from before the log existed, or trimmed by its retention). This run met its
// share of them while folding; the events before a resumption are counted here: every applied
// event up to the position was either folded or missing.
func (r *replay) countMissing(ctx context.Context, q pgx.Tx, resumed bool) (int64, error) {
	missing := r.missing
	if resumed {
		var applied int64
		err := q.QueryRow(ctx, `SELECT count(*) FROM processed_messages
			WHERE consumer = $1 AND (transaction_id, seq) <= ($2::text::xid8, $3)`, ConsumerName, r.last.xid, r.last.seq).Scan(&applied)
		if err != nil {
			return 0, fmt.Errorf("could not count the events the source lacks: %w", err)
		}
		missing = applied - r.folded
	}
	if missing > 0 {
		r.cfg.Logger.WarnContext(ctx, "events the live projection applied are not in the source; the replay cannot reflect them",
			"source", r.source,
			"missing", missing)
	}
	return missing, nil
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
	ends, n, err := bus.ReadTopic(ctx, src.Brokers, src.Security, src.Topic, r.read, func(msg *message.Message) error {
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

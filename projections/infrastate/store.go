package infrastate

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/events"
)

// claimAll records that consumer handled ids, in their order, and returns the ones it had not
// handled before.
func claimAll(ctx context.Context, tx pgx.Tx, consumer string, ids []string) (map[string]bool, error) {
	rows, err := tx.Query(ctx, `INSERT INTO processed_messages (consumer, message_id)
		SELECT $1, id FROM unnest($2::text[]) WITH ORDINALITY AS u(id, n) ORDER BY n
		ON CONFLICT DO NOTHING RETURNING message_id`, consumer, ids)
	if err != nil {
		return nil, fmt.Errorf("could not record %d messages as processed by %s: %w", len(ids), consumer, err)
	}
	fresh := map[string]bool{}
	var id string
	if _, err := pgx.ForEachRow(rows, []any{&id}, func() error { fresh[id] = true; return nil }); err != nil {
		return nil, fmt.Errorf("could not record %d messages as processed by %s: %w", len(ids), consumer, err)
	}
	return fresh, nil
}

// loadAll reads the states of keys for update, locking them in key order so that two batches
// never wait on each other in a circle. Keys with no state yet are absent from the result.
func loadAll(ctx context.Context, tx pgx.Tx, keys []string) (map[string]TargetState, error) {
	states := map[string]TargetState{}
	if len(keys) == 0 {
		return states, nil
	}
	rows, err := tx.Query(ctx, `SELECT data FROM infrastructure_state WHERE adapter_id = ANY($1)
		ORDER BY adapter_id FOR UPDATE`, keys)
	if err != nil {
		return nil, fmt.Errorf("could not load the state of %d targets: %w", len(keys), err)
	}
	list, err := pgx.CollectRows(rows, rowToState)
	if err != nil {
		return nil, fmt.Errorf("could not load the state of %d targets: %w", len(keys), err)
	}
	for _, s := range list {
		states[s.AdapterID] = s
	}
	return states, nil
}

// storeAll writes the states dirty names (each with the last event that changed it), in key
// order, in one round trip.
func storeAll(ctx context.Context, tx pgx.Tx, states map[string]TargetState, dirty map[string]string) error {
	return storeAllInto(ctx, tx, LiveTable, states, dirty)
}

// storeAllInto is storeAll into table, the live table or the replay's shadow.
func storeAllInto(ctx context.Context, tx pgx.Tx, table string, states map[string]TargetState, dirty map[string]string) error {
	if len(dirty) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	for _, key := range slices.Sorted(maps.Keys(dirty)) {
		if err := queueStore(batch, table, states[key], dirty[key]); err != nil {
			return err
		}
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("could not store the state of %d targets in %s: %w", len(dirty), table, err)
	}
	return nil
}

// queueStore queues the upsert of s into table.
func queueStore(batch *pgx.Batch, table string, s TargetState, eventID string) error {
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("could not encode state of %s: %w", s.AdapterID, err)
	}
	batch.Queue(`
		INSERT INTO `+table+` (adapter_id, adapter, target, status, data, last_event, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, now())
		ON CONFLICT (adapter_id) DO UPDATE SET
			status = excluded.status, data = excluded.data, last_event = excluded.last_event, updated_at = now()`,
		s.AdapterID, s.Adapter, s.Target, string(s.Status), data, eventID)
	return nil
}

func rowToState(r pgx.CollectableRow) (TargetState, error) {
	var data []byte
	var s TargetState
	if err := r.Scan(&data); err != nil {
		return s, err
	}
	return s, json.Unmarshal(data, &s)
}

// recordIntents stores intents in one statement and returns the ids of those not stored before.
func recordIntents(ctx context.Context, tx pgx.Tx, intents []events.IntentMessage) (map[string]bool, error) {
	n := len(intents)
	ids, kinds, subjects, reasons, causes, at := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]time.Time, n)
	for i, in := range intents {
		f := in.Fields()
		ids[i], kinds[i], subjects[i], reasons[i], causes[i], at[i] = f.ID, in.Kind().Name, f.Subject, f.Reason, f.CausedBy, f.RaisedAt
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO infrastructure_intents (intent_id, kind, subject, reason, caused_by, raised_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
		ON CONFLICT (intent_id) DO NOTHING RETURNING intent_id`, ids, kinds, subjects, reasons, causes, at)
	if err != nil {
		return nil, fmt.Errorf("could not record %d intents: %w", n, err)
	}
	fresh := map[string]bool{}
	var id string
	if _, err := pgx.ForEachRow(rows, []any{&id}, func() error { fresh[id] = true; return nil }); err != nil {
		return nil, fmt.Errorf("could not record %d intents: %w", n, err)
	}
	return fresh, nil
}

// Row is one target's stored state, as `omni state` shows it.
type Row struct {
	TargetState
	UpdatedAt string `json:"updated_at"`
}

// Querier is what reading the state needs: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Filter narrows what List and ListIntents return. Zero fields do not filter.
type Filter struct {
	// Target is an adapter id ("postgres/orders"), an adapter ("postgres") or a target's name ("orders").
	Target string
	// Status keeps the targets in this status (List only).
	Status Status
	// Kind keeps the intents of this kind (ListIntents only).
	Kind string
	// Since keeps the targets updated, or the intents raised, at or after it.
	Since time.Time
}

// List returns every target's state, ordered by adapter id.
func List(ctx context.Context, db Querier) ([]TargetState, error) {
	return ListFiltered(ctx, db, Filter{})
}

// ListFiltered returns the states f selects, ordered by adapter id.
func ListFiltered(ctx context.Context, db Querier, f Filter) ([]TargetState, error) {
	rows, err := db.Query(ctx, `SELECT data FROM infrastructure_state
		WHERE ($1 = '' OR adapter_id = $1 OR adapter = $1 OR target = $1)
		  AND ($2 = '' OR status = $2)
		  AND ($3::timestamptz IS NULL OR updated_at >= $3)
		ORDER BY adapter_id`, f.Target, string(f.Status), since(f.Since))
	if err != nil {
		return nil, fmt.Errorf("could not read infrastructure state: %w", err)
	}
	states, err := pgx.CollectRows(rows, rowToState)
	if err != nil {
		return nil, fmt.Errorf("could not read infrastructure state: %w", err)
	}
	return states, nil
}

func since(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// IntentRow is one stored intent.
type IntentRow struct {
	ID       string    `json:"intent_id"`
	Kind     string    `json:"kind"`
	Subject  string    `json:"subject"`
	Reason   string    `json:"reason"`
	CausedBy string    `json:"caused_by"`
	RaisedAt time.Time `json:"raised_at"`
}

// ListIntents returns the intents f selects, oldest first.
func ListIntents(ctx context.Context, db Querier, f Filter) ([]IntentRow, error) {
	rows, err := db.Query(ctx, `SELECT intent_id, kind, subject, reason, caused_by, raised_at FROM infrastructure_intents
		WHERE ($1 = '' OR subject = $1 OR split_part(subject, '/', 1) = $1 OR split_part(subject, '/', 2) = $1)
		  AND ($2 = '' OR kind = $2)
		  AND ($3::timestamptz IS NULL OR raised_at >= $3)
		ORDER BY raised_at, intent_id`, f.Target, f.Kind, since(f.Since))
	if err != nil {
		return nil, fmt.Errorf("could not read intents: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[IntentRow])
	if err != nil {
		return nil, fmt.Errorf("could not read intents: %w", err)
	}
	return out, nil
}

// Overall is the worst status of all targets; unknown when there are none.
func Overall(states []TargetState) Status {
	if len(states) == 0 {
		return StatusUnknown
	}
	worst := StatusHealthy
	for _, s := range states {
		if s.Status.Severity() > worst.Severity() {
			worst = s.Status
		}
	}
	if worst.Severity() == StatusUnknown.Severity() {
		worst = StatusUnknown // a status this version does not know counts, and shows, as unknown
	}
	return worst
}

package sagas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/events"
)

// ErrConcurrency is returned when a saga changed between reading and writing it: another message
// for the same saga was handled meanwhile. The message is handled again from the new state.
var ErrConcurrency = errors.New("saga changed concurrently")

// record is what saga_instances.data stores of s.
func record(s Saga[json.RawMessage]) ([]byte, error) {
	data, err := json.Marshal(Record{Progress: s.Progress, State: s.State})
	if err != nil {
		return nil, fmt.Errorf("could not encode saga %s: %w", s.ID, err)
	}
	return data, nil
}

// insertSaga inserts s unless a running saga of its workflow and subject exists; it reports
// whether it inserted.
func insertSaga(ctx context.Context, tx pgx.Tx, s Saga[json.RawMessage]) (bool, error) {
	data, err := record(s)
	if err != nil {
		return false, err
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO saga_instances (id, workflow, correlation_key, step, status, data, version)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (workflow, correlation_key) WHERE status = 'running' DO NOTHING`,
		s.ID, s.Workflow, s.Subject, s.Step, string(s.Status), data, s.Version)
	if err != nil {
		return false, fmt.Errorf("could not start %s saga for %s: %w", s.Workflow, s.Subject, err)
	}
	return tag.RowsAffected() == 1, nil
}

const sagaColumns = `id, workflow, correlation_key, status, step, version, data`

// scanSaga reads a saga with its state still encoded, as the engine holds it. Its data is read
// strictly: a field this version does not know means a shape the migrations did not rewrite.
func scanSaga(row pgx.Row) (Saga[json.RawMessage], error) {
	var s Saga[json.RawMessage]
	var data []byte
	if err := row.Scan(&s.ID, &s.Workflow, &s.Subject, &s.Status, &s.Step, &s.Version, &data); err != nil {
		return s, err
	}
	var r Record
	if err := events.DecodeStrict(data, &r); err != nil {
		// Permanent: no retry makes the row readable; the message goes to poison with why.
		return s, fmt.Errorf("%w: saga %s has unreadable data: %w", events.ErrRejected, s.ID, err)
	}
	s.Progress, s.State = r.Progress, r.State
	return s, nil
}

// runningSaga returns the running saga of workflow for subject.
func runningSaga(ctx context.Context, tx pgx.Tx, workflow, subject string) (Saga[json.RawMessage], error) {
	s, err := scanSaga(tx.QueryRow(ctx, `SELECT `+sagaColumns+` FROM saga_instances
		WHERE workflow = $1 AND correlation_key = $2 AND status = 'running'`, workflow, subject))
	if err != nil {
		return s, fmt.Errorf("could not read the running %s saga of %s: %w", workflow, subject, err)
	}
	return s, nil
}

// loadSaga returns saga id.
func loadSaga(ctx context.Context, tx pgx.Tx, id string) (Saga[json.RawMessage], error) {
	s, err := scanSaga(tx.QueryRow(ctx, `SELECT `+sagaColumns+` FROM saga_instances WHERE id = $1`, id))
	if err != nil {
		return s, fmt.Errorf("could not read saga %s: %w", id, err)
	}
	return s, nil
}

// storeSaga writes d's saga if it is still at version, its timeline and its commands' rows.
func storeSaga(ctx context.Context, tx pgx.Tx, version int64, d Decision[json.RawMessage]) error {
	s := d.Saga
	data, err := record(s)
	if err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `
		UPDATE saga_instances SET step = $3, status = $4, data = $5, deadline = $6, version = version + 1,
			updated_at = now()
		WHERE id = $1 AND version = $2`, s.ID, version, s.Step, string(s.Status), data, s.Progress.Deadline)
	if err != nil {
		return fmt.Errorf("could not update saga %s: %w", s.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("saga %s at version %d: %w", s.ID, version, ErrConcurrency)
	}
	batch := &pgx.Batch{}
	for _, e := range d.Timeline {
		note, err := json.Marshal(e.Note)
		if err != nil {
			return fmt.Errorf("could not encode the timeline of saga %s: %w", s.ID, err)
		}
		batch.Queue(`INSERT INTO saga_steps (saga_id, seq, step, event, detail)
			SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4 FROM saga_steps WHERE saga_id = $1`,
			s.ID, e.Step, e.Event, note)
	}
	for _, c := range d.Commands {
		adapter, target := c.Command.Addressee()
		batch.Queue(`INSERT INTO saga_commands (command_id, saga_id, step, adapter_id, kind) VALUES ($1, $2, $3, $4, $5)`,
			c.ID, s.ID, s.Step, adapter+"/"+target, c.Command.Kind().String())
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("could not record the timeline of saga %s: %w", s.ID, err)
	}
	return nil
}

// auditCommands appends each command d's saga sends to the audit log, sent by the saga, in tx:
// the engine's transaction that writes their saga_commands rows, last, so that the log's lock
// is held only until its commit.
func auditCommands(ctx context.Context, tx pgx.Tx, d Decision[json.RawMessage], h *audit.Hasher) error {
	s := d.Saga
	actor := fmt.Sprintf("saga %s %s", s.Workflow, s.ID)
	for _, c := range d.Commands {
		if err := audit.RecordCommandSent(ctx, tx, h, actor, c.ID, c.Command, map[string]string{"step": s.Step}); err != nil {
			return fmt.Errorf("could not audit the commands of saga %s: %w", s.ID, err)
		}
	}
	return nil
}

// commandSaga returns the saga that sent command id, if a saga did.
func commandSaga(ctx context.Context, db DB, id string) (string, bool, error) {
	var sagaID string
	err := db.QueryRow(ctx, `SELECT saga_id FROM saga_commands WHERE command_id = $1`, id).Scan(&sagaID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("could not look up command %s: %w", id, err)
	}
	return sagaID, true, nil
}

// recordReply keeps a command's reply for the saga's timeline.
func recordReply(ctx context.Context, tx pgx.Tx, id string, r Reply) error {
	reply, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("could not encode the reply to %s: %w", id, err)
	}
	_, err = tx.Exec(ctx, `UPDATE saga_commands SET outcome = $2, reply = $3, replied_at = now() WHERE command_id = $1`,
		id, string(r.Outcome), reply)
	if err != nil {
		return fmt.Errorf("could not record the reply to %s: %w", id, err)
	}
	return nil
}

// recordUnroutable keeps an intent the contract has no route for.
func recordUnroutable(ctx context.Context, tx pgx.Tx, intentID, intent, subject, reason string) error {
	_, err := tx.Exec(ctx, `INSERT INTO saga_unroutable (intent_id, intent, subject, reason) VALUES ($1, $2, $3, $4)
		ON CONFLICT (intent_id) DO NOTHING`, intentID, intent, subject, reason)
	if err != nil {
		return fmt.Errorf("could not record unroutable intent %s: %w", intentID, err)
	}
	return nil
}

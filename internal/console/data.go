package console

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/internal/poison"
	"github.com/omninode/omnibase-infra/projections/infrastate"
)

// Target is one target of the fleet as the console and /status show it.
type Target struct {
	AdapterID    string    `json:"adapter_id"`
	Status       string    `json:"status"`
	StatusSince  time.Time `json:"status_since,omitzero"`
	Breaker      string    `json:"breaker"`
	BreakerSince time.Time `json:"breaker_since,omitzero"`
	Owner        string    `json:"owner,omitempty"`
	OwnerSince   time.Time `json:"owner_since,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
	LastProbedAt time.Time `json:"last_probed_at,omitzero"`
}

// statusKinds are the events that move a target's status: the newest is when it took it.
var statusKinds = []string{"infrastructure_health_degraded", "infrastructure_health_critical", "infrastructure_health_reported",
	"recovery_initiated", "failover_required", "failover_failed"}

// Fleet reads every target's state, its breaker and owner, and since when it has had its status.
func Fleet(ctx context.Context, db poison.Querier) ([]Target, error) {
	states, err := infrastate.List(ctx, db)
	if err != nil {
		return nil, err
	}
	out := make([]Target, 0, len(states))
	ids := make([]string, 0, len(states))
	for _, s := range states {
		out = append(out, Target{AdapterID: s.AdapterID, Status: string(s.Status), Breaker: string(s.Breaker),
			BreakerSince: s.BreakerSince, Owner: s.Owner, OwnerSince: s.OwnerSince, LastError: s.LastError,
			LastProbedAt: s.LastProbedAt})
		ids = append(ids, s.AdapterID)
	}
	// The newest event that moved its status; a target that never moved has had it since it
	// first did anything. One round trip for the whole fleet, each lookup on the history index.
	rows, err := db.Query(ctx, `SELECT t.key, coalesce(
			(SELECT occurred_at FROM event_log WHERE key = t.key AND `+HistoryOnly+` AND kind = ANY($2) ORDER BY seq DESC LIMIT 1),
			(SELECT occurred_at FROM event_log WHERE key = t.key AND `+HistoryOnly+` ORDER BY seq LIMIT 1))
		FROM unnest($1::text[]) t(key)`, ids, statusKinds)
	if err != nil {
		return nil, fmt.Errorf("could not read since when the targets have their status: %w", err)
	}
	since := map[string]time.Time{}
	var id string
	var at *time.Time
	if _, err := pgx.ForEachRow(rows, []any{&id, &at}, func() error {
		if at != nil {
			since[id] = *at
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("could not read since when the targets have their status: %w", err)
	}
	for i := range out {
		out[i].StatusSince = since[out[i].AdapterID]
	}
	return out, nil
}

// Event is one line of a target's history (the event log).
type Event struct {
	Seq        int64     `json:"seq"`
	Kind       string    `json:"kind"`
	Topic      string    `json:"topic"`
	OccurredAt time.Time `json:"occurred_at"`
	TraceID    string    `json:"trace_id,omitempty"`
	Summary    string    `json:"summary,omitempty"`
}

// HistoryOnly leaves the routine events out of a target's history: the probes, their commands
// and outcomes and the pool reports, several a second, would hide everything else.
// WARNING: word for word the predicate of the partial index event_log_history (migration
// 00017): the planner uses the index only when the query repeats it, and without the index a
// target's history walks every probe it ever made.
const HistoryOnly = `kind <> ALL (ARRAY['adapter_health_reported', 'connection_pool_stats_reported', 'probe_target'])
	AND NOT (kind = 'command_succeeded' AND position('"command":"probe_target/'::bytea IN payload) > 0)`

// History returns the newest events about adapterID but the routine ones, newest first.
func History(ctx context.Context, db poison.Querier, adapterID string, limit int) ([]Event, error) {
	h, err := Histories(ctx, db, []string{adapterID}, limit)
	return h[adapterID], err
}

// Histories returns History of each of ids, in one round trip.
func Histories(ctx context.Context, db poison.Querier, ids []string, limit int) (map[string][]Event, error) {
	rows, err := db.Query(ctx, `SELECT t.key, h.seq, h.kind, h.topic, h.occurred_at, h.traceparent, h.payload
		FROM unnest($1::text[]) t(key) CROSS JOIN LATERAL (
			SELECT seq, kind, topic, occurred_at, coalesce(metadata->>'traceparent', '') AS traceparent, payload
			FROM event_log WHERE key = t.key AND `+HistoryOnly+`
			ORDER BY seq DESC LIMIT $2) h
		ORDER BY t.key, h.seq DESC`, ids, limit)
	if err != nil {
		return nil, fmt.Errorf("could not read the targets' history: %w", err)
	}
	out := map[string][]Event{}
	var key, tp string
	var payload []byte
	var e Event
	if _, err := pgx.ForEachRow(rows, []any{&key, &e.Seq, &e.Kind, &e.Topic, &e.OccurredAt, &tp, &payload}, func() error {
		e.TraceID, e.Summary = traceID(tp), summary(payload)
		out[key] = append(out[key], e)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("could not read the targets' history: %w", err)
	}
	return out, nil
}

// traceID is the trace id of a W3C traceparent ("00-<trace>-<span>-<flags>"), "" if none.
func traceID(traceparent string) string {
	parts := strings.Split(traceparent, "-")
	if len(parts) != 4 || len(parts[1]) != 32 {
		return ""
	}
	return parts[1]
}

// summary is a few of a payload's scalar fields, for a line of history (sealed ones show sealed).
func summary(payload []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(payload, &m) != nil {
		return ""
	}
	var parts []string
	for _, k := range []string{"reason", "state", "to", "status", "command", "error", "owner", "outcome"} {
		var s string
		if raw, ok := m[k]; ok && json.Unmarshal(raw, &s) == nil && s != "" {
			if len(s) > 80 {
				s = s[:77] + "..."
			}
			parts = append(parts, k+"="+s)
		}
	}
	return strings.Join(parts, " ")
}

// Intent is one raised intent.
type Intent struct {
	ID       string    `json:"intent_id"`
	Kind     string    `json:"kind"`
	Subject  string    `json:"subject"`
	Reason   string    `json:"reason"`
	CausedBy string    `json:"caused_by"`
	RaisedAt time.Time `json:"raised_at"`
	SagaID   string    `json:"saga_id,omitempty"`
}

// Intents returns the newest intents, with the saga each started (when one did).
func Intents(ctx context.Context, db poison.Querier, limit int) ([]Intent, error) {
	rows, err := db.Query(ctx, `SELECT i.intent_id, i.kind, i.subject, i.reason, i.caused_by, i.raised_at,
			coalesce((SELECT s.id FROM saga_instances s WHERE s.correlation_key = i.subject
				AND s.data->'triggers' @> jsonb_build_array(jsonb_build_object('intent_id', i.intent_id)) LIMIT 1), '')
		FROM infrastructure_intents i ORDER BY i.raised_at DESC, i.intent_id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("could not read intents: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Intent])
	if err != nil {
		return nil, fmt.Errorf("could not read intents: %w", err)
	}
	return out, nil
}

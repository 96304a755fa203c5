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

// Fleet reads every target's state, its breaker and owner.
func Fleet(ctx context.Context, db poison.Querier) ([]Target, error) {
	states, err := infrastate.List(ctx, db)
	if err != nil {
		return nil, err
	}
	out := make([]Target, 0, len(states))
	for _, s := range states {
		t := Target{AdapterID: s.AdapterID, Status: string(s.Status), Breaker: string(s.Breaker), BreakerSince: s.BreakerSince,
			Owner: s.Owner, OwnerSince: s.OwnerSince, LastError: s.LastError, LastProbedAt: s.LastProbedAt}
		var since *time.Time
		if err := db.QueryRow(ctx, `SELECT max(occurred_at) FROM event_log WHERE key = $1 AND kind = ANY($2)`,
			s.AdapterID, statusKinds).Scan(&since); err != nil {
			return nil, fmt.Errorf("could not read when %s took its status: %w", s.AdapterID, err)
		}
		if since == nil {
			// Never moved: its status is the one it has had since it first reported.
			if err := db.QueryRow(ctx, `SELECT min(occurred_at) FROM (SELECT occurred_at FROM event_log WHERE key = $1
				ORDER BY seq LIMIT 1) f`, s.AdapterID).Scan(&since); err != nil {
				return nil, fmt.Errorf("could not read when %s first reported: %w", s.AdapterID, err)
			}
		}
		if since != nil {
			t.StatusSince = *since
		}
		out = append(out, t)
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

// routine are the kinds of event a target's history leaves out: the probes, their commands and
// the pool reports, several a second, would hide everything else.
var routine = []string{"adapter_health_reported", "connection_pool_stats_reported", "probe_target"}

// History returns the newest events about adapterID but the routine ones, newest first.
func History(ctx context.Context, db poison.Querier, adapterID string, limit int) ([]Event, error) {
	rows, err := db.Query(ctx, `SELECT seq, kind, topic, occurred_at, coalesce(metadata->>'traceparent', ''), payload
		FROM event_log WHERE key = $1 AND kind <> ALL($3)
		  AND NOT (kind = 'command_succeeded' AND position('"command":"probe_target/'::bytea IN payload) > 0)
		ORDER BY seq DESC LIMIT $2`, adapterID, limit, routine)
	if err != nil {
		return nil, fmt.Errorf("could not read the history of %s: %w", adapterID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Event, error) {
		var e Event
		var tp string
		var payload []byte
		if err := row.Scan(&e.Seq, &e.Kind, &e.Topic, &e.OccurredAt, &tp, &payload); err != nil {
			return e, err
		}
		e.TraceID, e.Summary = traceID(tp), summary(payload)
		return e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("could not read the history of %s: %w", adapterID, err)
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

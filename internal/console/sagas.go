package console

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/internal/poison"
	"github.com/omninode/omnibase-infra/sagas"
)

// SagaFilter selects sagas for a page; empty fields match everything.
type SagaFilter struct {
	Workflow string
	Status   string
	Target   string
	// After is the cursor of the last row of the previous page ("" from the newest).
	After string
}

// cursor is a page's position: the (created_at, id) of its last row, newest first.
type cursor struct {
	at time.Time
	id string
}

func (c cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.at.UTC().Format(time.RFC3339Nano) + "|" + c.id))
}

// CursorAt is the cursor of a page that ends with saga id, created at: the next page starts
// after it.
func CursorAt(at time.Time, id string) string { return cursor{at: at, id: id}.String() }

// ErrBadCursor: a page's "after" is not a cursor the console made.
var ErrBadCursor = errors.New("not a page cursor")

func parseCursor(s string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, ErrBadCursor
	}
	at, id, ok := strings.Cut(string(b), "|")
	t, terr := time.Parse(time.RFC3339Nano, at)
	if !ok || terr != nil {
		return cursor{}, ErrBadCursor
	}
	return cursor{at: t, id: id}, nil
}

// SagaPage is one page of sagas and the cursor of the next ("" on the last page).
type SagaPage struct {
	Sagas []sagas.Instance `json:"sagas"`
	Next  string           `json:"next,omitempty"`
}

// ListSagas returns a page of the sagas f selects, newest first, by keyset: each page is one
// index range scan however deep it is, so 100,000 sagas page as fast as 100.
func ListSagas(ctx context.Context, db poison.Querier, f SagaFilter, limit int) (SagaPage, error) {
	var after *cursor
	if f.After != "" {
		c, err := parseCursor(f.After)
		if err != nil {
			return SagaPage{}, err
		}
		after = &c
	}
	var at *time.Time
	var id string
	if after != nil {
		at, id = &after.at, after.id
	}
	rows, err := db.Query(ctx, `
		SELECT id, workflow, correlation_key, step, status, version, deadline, coalesce(data->>'failure', ''),
			created_at, updated_at
		FROM saga_instances
		WHERE ($1 = '' OR workflow = $1) AND ($2 = '' OR status = $2) AND ($3 = '' OR correlation_key = $3)
		  AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5))
		ORDER BY created_at DESC, id DESC LIMIT $6`, f.Workflow, f.Status, f.Target, at, id, limit+1)
	if err != nil {
		return SagaPage{}, fmt.Errorf("could not list sagas: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[sagas.Instance])
	if err != nil {
		return SagaPage{}, fmt.Errorf("could not list sagas: %w", err)
	}
	page := SagaPage{Sagas: list}
	if len(list) > limit {
		page.Sagas = list[:limit]
		last := page.Sagas[limit-1]
		page.Next = cursor{at: last.CreatedAt, id: last.ID}.String()
	}
	return page, nil
}

// Moment is one line of a saga's timeline: a step recorded, a command sent, its reply, a timer.
type Moment struct {
	At     time.Time `json:"at"`
	What   string    `json:"what"` // step, command, reply, timer, compensation
	Step   string    `json:"step"`
	Detail string    `json:"detail"`
}

// Timeline is a saga with every moment of it in time order.
type Timeline struct {
	Story   sagas.Story `json:"saga"`
	Moments []Moment    `json:"moments"`
}

// SagaTimeline reads saga id: its steps, the commands it sent and their replies, and its
// pending timers, in time order.
func SagaTimeline(ctx context.Context, db poison.Querier, id string) (Timeline, error) {
	st, err := sagas.Show(ctx, db, id)
	if err != nil {
		return Timeline{}, err
	}
	tl := Timeline{Story: st}
	for _, m := range st.Timeline {
		what := "step"
		if strings.Contains(m.Event, "compensat") || strings.Contains(m.Step, "compensat") {
			what = "compensation"
		}
		tl.Moments = append(tl.Moments, Moment{At: m.RecordedAt, What: what, Step: m.Step, Detail: noteText(m)})
	}
	for _, c := range st.Commands {
		tl.Moments = append(tl.Moments, Moment{At: c.SentAt, What: "command", Step: c.Step,
			Detail: fmt.Sprintf("%s to %s (%s)", c.Kind, c.AdapterID, c.ID)})
		if c.RepliedAt != nil {
			tl.Moments = append(tl.Moments, Moment{At: *c.RepliedAt, What: "reply", Step: c.Step,
				Detail: fmt.Sprintf("%s: %s", c.Kind, c.Outcome)})
		}
	}
	rows, err := db.Query(ctx, `SELECT kind, due_at, created_at FROM saga_timers WHERE saga_id = $1`, id)
	if err != nil {
		return tl, fmt.Errorf("could not read the timers of saga %s: %w", id, err)
	}
	var kind string
	var due, created time.Time
	if _, err := pgx.ForEachRow(rows, []any{&kind, &due, &created}, func() error {
		tl.Moments = append(tl.Moments, Moment{At: created, What: "timer", Step: st.Step,
			Detail: fmt.Sprintf("%s timer due %s", kind, due.UTC().Format(time.RFC3339))})
		return nil
	}); err != nil {
		return tl, fmt.Errorf("could not read the timers of saga %s: %w", id, err)
	}
	sort.SliceStable(tl.Moments, func(i, j int) bool { return tl.Moments[i].At.Before(tl.Moments[j].At) })
	return tl, nil
}

func noteText(m sagas.Moment) string {
	n := m.Note
	parts := []string{m.Event}
	for _, kv := range [][2]string{{"command", n.Command}, {"to", n.AdapterID}, {"outcome", string(n.Outcome)},
		{"intent", n.Intent}, {"reason", n.Reason}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	if n.Attempt > 0 {
		parts = append(parts, fmt.Sprintf("attempt=%d", n.Attempt))
	}
	if n.Until != nil {
		parts = append(parts, "until="+n.Until.UTC().Format(time.RFC3339))
	}
	return strings.Join(parts, " ")
}

package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/omninode/omnibase-infra/internal/poison"
	"github.com/omninode/omnibase-infra/sagas"
)

func (c *Console) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /assets/", static())
	mux.HandleFunc("GET /{$}", c.handleFleet)
	mux.HandleFunc("GET /targets/{adapter}/{target}", c.handleTarget)
	mux.HandleFunc("GET /intents", c.handleIntents)
	mux.HandleFunc("GET /sagas", c.handleSagas)
	mux.HandleFunc("GET /sagas/{id}", c.handleSaga)
	mux.HandleFunc("GET /poison", c.handlePoisonList)
	mux.HandleFunc("GET /poison/{id}", c.handlePoisonShow)
	mux.HandleFunc("POST /poison/{id}/{action}", c.handlePoisonAction)
	mux.HandleFunc("POST /poison-bulk", c.handlePoisonBulk)
	mux.HandleFunc("GET /lag", c.handleLag)
	mux.HandleFunc("GET /live", c.handleLive)
	mux.HandleFunc("GET /login", c.handleLogin)
	mux.HandleFunc("POST /login", c.handleLogin)
	mux.HandleFunc("POST /logout", c.handleLogout)
	return mux
}

// fail answers a page that could not be read.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, code int, err error) {
	if code >= 500 {
		c.logger.ErrorContext(r.Context(), "console page failed", "path", r.URL.Path, "error", err)
	}
	http.Error(w, err.Error(), code)
}

func (c *Console) handleFleet(w http.ResponseWriter, r *http.Request) {
	v := c.viewerOf(w, r)
	fleet, err := Fleet(r.Context(), c.deps.DB)
	if err != nil {
		c.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	type row struct {
		Target
		History []Event
	}
	ids := make([]string, len(fleet))
	for i, t := range fleet {
		ids[i] = t.AdapterID
	}
	histories, err := Histories(r.Context(), c.deps.DB, ids, 8)
	if err != nil {
		c.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	rows := make([]row, 0, len(fleet))
	for _, t := range fleet {
		rows = append(rows, row{Target: t, History: histories[t.AdapterID]})
	}
	c.render(w, r, v, "fleet", "Fleet", rows)
}

func (c *Console) handleTarget(w http.ResponseWriter, r *http.Request) {
	v := c.viewerOf(w, r)
	id := r.PathValue("adapter") + "/" + r.PathValue("target")
	fleet, err := Fleet(r.Context(), c.deps.DB)
	if err != nil {
		c.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	var found *Target
	for i := range fleet {
		if fleet[i].AdapterID == id {
			found = &fleet[i]
		}
	}
	if found == nil {
		c.fail(w, r, http.StatusNotFound, fmt.Errorf("no target %s in the fleet", id))
		return
	}
	h, err := History(r.Context(), c.deps.DB, id, 200)
	if err != nil {
		c.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	page, err := ListSagas(r.Context(), c.deps.DB, SagaFilter{Target: id}, 20)
	if err != nil {
		c.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	c.render(w, r, v, "target", id, map[string]any{"Target": found, "History": h, "Sagas": page.Sagas})
}

func (c *Console) handleIntents(w http.ResponseWriter, r *http.Request) {
	v := c.viewerOf(w, r)
	list, err := Intents(r.Context(), c.deps.DB, c.cfg.PageSize*2)
	if err != nil {
		c.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	c.render(w, r, v, "intents", "Intents", list)
}

func (c *Console) handleSagas(w http.ResponseWriter, r *http.Request) {
	v := c.viewerOf(w, r)
	q := r.URL.Query()
	f := SagaFilter{Workflow: q.Get("workflow"), Status: q.Get("status"), Target: q.Get("target"), After: q.Get("after")}
	if f.Status != "" && !sagas.Status(f.Status).Known() {
		c.fail(w, r, http.StatusBadRequest, fmt.Errorf("status %q is not a saga status", f.Status))
		return
	}
	page, err := ListSagas(r.Context(), c.deps.DB, f, c.cfg.PageSize)
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, ErrBadCursor) {
			code = http.StatusBadRequest
		}
		c.fail(w, r, code, err)
		return
	}
	next := ""
	if page.Next != "" {
		nq := url.Values{}
		for k, val := range map[string]string{"workflow": f.Workflow, "status": f.Status, "target": f.Target, "after": page.Next} {
			if val != "" {
				nq.Set(k, val)
			}
		}
		next = "/sagas?" + nq.Encode()
	}
	var statuses []string
	for _, s := range sagas.Statuses() {
		statuses = append(statuses, string(s))
	}
	c.render(w, r, v, "sagas", "Sagas", map[string]any{"Filter": f, "Sagas": page.Sagas, "Next": next,
		"Statuses": statuses, "Workflows": []string{"health_check", "failover", "initialization"}})
}

func (c *Console) handleSaga(w http.ResponseWriter, r *http.Request) {
	v := c.viewerOf(w, r)
	tl, err := SagaTimeline(r.Context(), c.deps.DB, r.PathValue("id"))
	if errors.Is(err, sagas.ErrNotFound) {
		c.fail(w, r, http.StatusNotFound, err)
		return
	}
	if err != nil {
		c.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	c.render(w, r, v, "saga", "Saga "+tl.Story.ID, tl)
}

// poisonFilter reads a poison filter from a query or a form.
func poisonFilter(get func(string) string) (poison.Filter, error) {
	f := poison.Filter{Group: get("group"), Reason: get("reason"), Status: poison.Status(get("status")), Topic: get("topic")}
	for name, into := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if s := get(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				if t, err = time.Parse("2006-01-02T15:04", s); err != nil { // an <input type=datetime-local>
					return f, fmt.Errorf("%s %q: want a time such as 2026-12-01T10:00:00Z", name, s)
				}
			}
			*into = t
		}
	}
	if b := get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil {
			return f, fmt.Errorf("before %q is not an id", b)
		}
		f.Before = n
	}
	return f, f.Validate()
}

func (c *Console) handlePoisonList(w http.ResponseWriter, r *http.Request) {
	v := c.viewerOf(w, r)
	f, err := poisonFilter(r.URL.Query().Get)
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err)
		return
	}
	f.Limit = c.cfg.PageSize
	list, err := poison.List(r.Context(), c.deps.DB, f)
	if err != nil {
		c.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	count, err := poison.Count(r.Context(), c.deps.DB, f)
	if err != nil {
		c.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	next := ""
	if len(list) == f.Limit {
		q := r.URL.Query()
		q.Set("before", strconv.FormatInt(list[len(list)-1].ID, 10))
		next = "/poison?" + q.Encode()
	}
	c.render(w, r, v, "poison", "Poison", map[string]any{"Filter": f, "Messages": list, "Count": count, "Next": next,
		"Since": r.URL.Query().Get("since"), "Until": r.URL.Query().Get("until")})
}

func (c *Console) handlePoisonShow(w http.ResponseWriter, r *http.Request) {
	v := c.viewerOf(w, r)
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, fmt.Errorf("%q is not a poisoned message's id", r.PathValue("id")))
		return
	}
	m, err := poison.Show(r.Context(), c.deps.DB, id)
	if errors.Is(err, poison.ErrNotFound) {
		c.fail(w, r, http.StatusNotFound, err)
		return
	}
	if err != nil {
		c.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	c.render(w, r, v, "poisoned", fmt.Sprintf("Poisoned message %d", id), map[string]any{"M": m, "Payload": string(m.Payload)})
}

func actionOf(name string) (func(ctx context.Context, db poison.DB, actor string, id int64) (poison.Result, error), bool) {
	switch name {
	case "requeue":
		return poison.Requeue, true
	case "discard":
		return poison.Discard, true
	}
	return nil, false
}

func (c *Console) handlePoisonAction(w http.ResponseWriter, r *http.Request) {
	v := c.viewerOf(w, r)
	if c.authorize(w, r, v) != nil {
		return
	}
	action, ok := actionOf(r.PathValue("action"))
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if !ok || err != nil {
		c.fail(w, r, http.StatusNotFound, fmt.Errorf("no such action: %s", r.URL.Path))
		return
	}
	res, err := action(r.Context(), c.deps.DB, actor(v, r), id)
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, poison.ErrResolved) || errors.Is(err, poison.ErrNotRequeueable) || errors.Is(err, poison.ErrNotFound) {
			code = http.StatusConflict
		}
		c.fail(w, r, code, err)
		return
	}
	c.logger.InfoContext(r.Context(), "console action", "action", r.PathValue("action"), "poison_id", id, "actor", v.who)
	http.Redirect(w, r, fmt.Sprintf("/poison/%d?flash=%s", id, url.QueryEscape(string(res.Outcome))), http.StatusSeeOther)
}

func (c *Console) handlePoisonBulk(w http.ResponseWriter, r *http.Request) {
	v := c.viewerOf(w, r)
	if c.authorize(w, r, v) != nil {
		return
	}
	action, ok := actionOf(r.PostFormValue("action"))
	if !ok {
		c.fail(w, r, http.StatusBadRequest, fmt.Errorf("action %q: want requeue or discard", r.PostFormValue("action")))
		return
	}
	f, err := poisonFilter(r.PostFormValue)
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err)
		return
	}
	if f.Empty() && r.PostFormValue("all") != "yes" {
		c.fail(w, r, http.StatusBadRequest, errors.New("no filter: tick 'every poisoned message' to act on all of them"))
		return
	}
	ids, err := poison.Matching(r.Context(), c.deps.DB, f)
	if err != nil {
		c.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	results, err := poison.Each(r.Context(), c.deps.DB, actor(v, r), ids, action)
	failed := 0
	for _, res := range results {
		if res.Error != "" {
			failed++
		}
	}
	if err != nil {
		c.logger.WarnContext(r.Context(), "console bulk action partly failed", "failed", failed, "error", err)
	}
	flash := fmt.Sprintf("%s: %d done, %d failed", r.PostFormValue("action"), len(results)-failed, failed)
	http.Redirect(w, r, "/poison?flash="+url.QueryEscape(flash), http.StatusSeeOther)
}

func (c *Console) handleLag(w http.ResponseWriter, r *http.Request) {
	v := c.viewerOf(w, r)
	lag, err := ReadLag(r.Context(), c.deps.DB, c.deps.Kafka, c.cfg.RelayGroup)
	if err != nil {
		c.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	c.render(w, r, v, "lag", "Lag", lag)
}

package console

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// fingerprint changes whenever anything a page shows may have: a new event in the log, a saga
// moved, a message poisoned or resolved, a target's state folded. Each part is an index lookup.
func (c *Console) fingerprint(ctx context.Context) (string, error) {
	var fp string
	err := c.deps.DB.QueryRow(ctx, `SELECT concat_ws('|',
		(SELECT max(seq) FROM event_log), (SELECT max(updated_at) FROM saga_instances),
		(SELECT max(id) FROM poison_messages), (SELECT count(*) FROM poison_messages WHERE status = 'poisoned'),
		(SELECT max(updated_at) FROM infrastructure_state))`).Scan(&fp)
	if err != nil {
		return "", fmt.Errorf("could not read what changed: %w", err)
	}
	return fp, nil
}

// handleLive streams Server-Sent Events: "change" each time the fingerprint changes, looked at
// every LiveInterval. The page's script then fetches itself again and swaps its content in, so
// it updates without reloading. The stream ends with the request or the console.
func (c *Console) handleLive(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported here", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	ctx := r.Context()
	last := ""
	tick := time.NewTicker(c.cfg.LiveInterval)
	defer tick.Stop()
	fmt.Fprint(w, "retry: 2000\n\n")
	flusher.Flush()
	for {
		fp, err := c.fingerprint(ctx)
		if err == nil && fp != last {
			if last != "" {
				fmt.Fprintf(w, "event: change\ndata: %d\n\n", time.Now().UnixMilli())
			} else {
				fmt.Fprint(w, ": live\n\n")
			}
			flusher.Flush()
			last = fp
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

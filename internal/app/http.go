package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// httpHandler serves /healthz (the process is up), /readyz (every part of it can do its work)
// and /metrics (Prometheus).
func (n *node) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		var b strings.Builder
		ready := true
		for _, c := range n.readiness(ctx) {
			if c.err != nil {
				ready = false
				fmt.Fprintf(&b, "%s: not ready: %v\n", c.part, c.err)
			} else {
				fmt.Fprintf(&b, "%s: ready\n", c.part)
			}
		}
		if !ready {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprint(w, b.String())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /status", n.serveStatus)
	return mux
}

// check is one part's readiness: nil, or why it is not ready.
type check struct {
	part string
	err  error
}

// readiness checks every part the process runs — the router (its handlers: the adapters'
// commands, the sagas), the projection's consumer, the relay — and whether the control database
// and the brokers answer.
func (n *node) readiness(ctx context.Context) []check {
	var out []check
	if !n.router.IsRunning() {
		out = append(out, check{"router", fmt.Errorf("not running")})
	} else {
		out = append(out, check{"router", nil})
	}
	if n.projection != nil {
		out = append(out, check{"projection", n.projection.Ready()})
	}
	if n.relay != nil {
		out = append(out, check{"relay", n.relay.Ready()})
	}
	out = append(out, check{"control database", n.db.Ping(ctx)})
	out = append(out, check{"kafka", n.kafka.Ping(ctx)})
	return out
}

package app

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/omninode/omnibase-infra/internal/console"
	"github.com/omninode/omnibase-infra/outbox"
)

// serveStatus serves /status: the fleet's state as JSON for scripts — each target's status,
// breaker and owner and since when, how many sagas are open, how many messages wait in poison,
// and the outbox's and the consumer groups' lag. The console's fleet page reads the same.
func (n *node) serveStatus(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	st, err := console.ReadStatus(ctx, n.db, n.kafka, n.relayGroup())
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		n.logger.WarnContext(ctx, "could not read /status", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(st)
}

// relayGroup is the relay's consumer group, whose outbox lag /status and the console show.
func (n *node) relayGroup() string {
	if g := n.cfg.Relay.ConsumerGroup; g != "" {
		return g
	}
	return outbox.DefaultRelayConfig().ConsumerGroup
}

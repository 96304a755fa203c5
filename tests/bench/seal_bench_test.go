package bench_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// queryOutcomes are txs transactions' worth of perTx query outcomes each: a CommandSucceeded
// whose result (rows of a query, sealed whole) and a PostgresQuery whose args are sealed — the
// messages with sensitive fields, the ones encryption costs something for.
func queryOutcomes(b *testing.B, txs, perTx int) [][]*message.Message {
	msgs := make([][]*message.Message, txs)
	now := time.Now()
	for i := range msgs {
		for j := range perTx {
			var m events.Message = events.CommandSucceeded{CommandID: fmt.Sprintf("c%d-%d", i, j), Command: "postgres_query/v1",
				AdapterID: "postgres/control", Attempts: 1, DurationMicros: 900, CompletedAt: now,
				Result: json.RawMessage(fmt.Sprintf(`{"columns":["id","email","balance"],"rows":[[%d,"user%d@example.com","1024.50"],[%d,"other%d@example.com","7.25"]],"row_count":2}`, i, i, j, j))}
			if j%2 == 1 {
				m = events.PostgresQuery{On: events.On{Target: "control"}, Statement: events.Statement{
					SQL: "SELECT id, email FROM users WHERE email = $1", Args: []json.RawMessage{json.RawMessage(fmt.Sprintf(`"user%d@example.com"`, i))}}}
			}
			msg, err := events.Encode(m, events.NewOrigin(), now)
			require.NoError(b, err)
			msgs[i] = append(msgs[i], msg)
		}
	}
	return msgs
}

// BenchmarkOutboxEncryptedVsPlain measures outbox publishing in handler-shaped transactions
// with sealing and signing (every message signed, its sensitive fields encrypted) against the
// same publishing without, in the same run, alternating which goes first.
func BenchmarkOutboxEncryptedVsPlain(b *testing.B) {
	const txs, workers, perTx = 2000, 8, 2
	db := freshDB(b)
	sealer, err := app.OpenSeal(context.Background(), app.SealConfig{KEK: containers.TestKEK}, db)
	require.NoError(b, err)
	sealedPublish := func(ctx context.Context, tx pgx.Tx, msgs []*message.Message) error {
		return outbox.PublishSealed(ctx, tx, sealer, "bench.events", msgs...)
	}
	sealedPass := func() float64 { return handlerShapes(b, db, queryOutcomes(b, txs, perTx), workers, sealedPublish) }
	plainPass := func() float64 {
		return handlerShapes(b, db, queryOutcomes(b, txs, perTx), workers, outboxPublish("bench.events"))
	}
	sealedRate, plainRate, rounds := alternate(b, sealedPass, plainPass)
	results.Record(b, "outbox_encrypted_events_per_s", sealedRate, "events/s")
	results.Record(b, "outbox_plain_events_per_s", plainRate, "events/s")
	ratio := results.Ratio(b, "outbox_encrypted_vs_plain", "outbox_encrypted_events_per_s", "outbox_plain_events_per_s")
	fmt.Printf("outbox publish, sealed and signed: %.0f events/s; plain: %.0f events/s; ratio %.2f (target >= 0.9; %d workers, %d events/tx, mean of %d rounds)\n",
		sealedRate, plainRate, ratio, workers, perTx, rounds)
}

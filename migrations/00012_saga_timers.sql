-- The sagas' timers in a table of their own. watermill-sql's delayed queue took its due rows
-- with a plain FOR UPDATE on the oldest hundred, so a second orchestrator waited behind the
-- first's whole batch; here each orchestrator takes the oldest due timer nobody holds
-- (FOR UPDATE SKIP LOCKED) and deletes it in the transaction of the decision it causes, so a
-- timer has its effect once. Timers still pending in the old queue (watermill_saga_timers, the
-- default timers topic) move here; the down step moves them back.
-- +goose Up
CREATE TABLE saga_timers (
    id         TEXT        PRIMARY KEY,
    saga_id    TEXT        NOT NULL REFERENCES saga_instances (id) ON DELETE CASCADE,
    token      INT         NOT NULL,
    kind       TEXT        NOT NULL,
    due_at     TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX saga_timers_due ON saga_timers (due_at);
CREATE INDEX saga_timers_saga ON saga_timers (saga_id, token);

-- +goose StatementBegin
DO $$
BEGIN
    IF to_regclass('watermill_saga_timers') IS NOT NULL THEN
        INSERT INTO saga_timers (id, saga_id, token, kind, due_at, created_at)
        SELECT q.uuid, q.payload->>'saga_id', (q.payload->>'token')::int, q.payload->>'kind',
               coalesce((q.metadata->>'_watermill_delayed_until')::timestamptz, (q.payload->>'at')::timestamptz),
               q.created_at
        FROM watermill_saga_timers q
        JOIN saga_instances s ON s.id = q.payload->>'saga_id'
        WHERE NOT q.acked
        ON CONFLICT (id) DO NOTHING;
        DROP TABLE watermill_saga_timers;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- The timers still pending go back to watermill-sql's delayed queue, in the table its subscriber
-- creates (made here only when there are any: a down step leaves nothing its up step did not).
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM saga_timers) THEN
        CREATE TABLE IF NOT EXISTS watermill_saga_timers (
            "offset"     SERIAL PRIMARY KEY,
            "uuid"       VARCHAR(36) NOT NULL,
            "payload"    JSON DEFAULT NULL,
            "metadata"   JSON DEFAULT NULL,
            "acked"      BOOLEAN NOT NULL DEFAULT FALSE,
            "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP
        );
        CREATE INDEX IF NOT EXISTS watermill_saga_timers_delayed_until_idx
            ON watermill_saga_timers ((metadata->>'_watermill_delayed_until'));
        INSERT INTO watermill_saga_timers (uuid, payload, metadata, created_at)
        SELECT id,
               json_build_object('saga_id', saga_id, 'token', token, 'kind', kind,
                                 'at', to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
               json_build_object('_watermill_delayed_until',
                                 to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                                 '_watermill_delayed_for', '0s'),
               created_at
        FROM saga_timers ORDER BY due_at;
    END IF;
END
$$;
-- +goose StatementEnd
DROP TABLE saga_timers;

-- The infrastructure-state projection: one row per adapter target, folded from infra.events.
-- status is kept out of data so it can be filtered and indexed.
-- +goose Up
CREATE TABLE infrastructure_state (
    adapter_id  TEXT        PRIMARY KEY,
    adapter     TEXT        NOT NULL,
    target      TEXT        NOT NULL,
    status      TEXT        NOT NULL,
    data        JSONB       NOT NULL,
    last_event  TEXT        NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every intent the projection raised. intent_id is derived from its cause, so a reprocessed event
-- cannot raise it twice.
CREATE TABLE infrastructure_intents (
    intent_id  TEXT        PRIMARY KEY,
    kind       TEXT        NOT NULL,
    subject    TEXT        NOT NULL,
    reason     TEXT        NOT NULL,
    caused_by  TEXT        NOT NULL,
    raised_at  TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX infrastructure_intents_subject ON infrastructure_intents (subject, raised_at);

-- +goose Down
DROP TABLE infrastructure_intents;
DROP TABLE infrastructure_state;

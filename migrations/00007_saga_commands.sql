-- The orchestrator's commands and what came of them. A saga sends each command through the outbox
-- in the transaction that records it here; the adapter's outcome event names the command's id,
-- which finds the saga it answers. `omni sagas show` reads the commands and replies from here.
-- Intents the contract has no route for are kept in saga_unroutable (and go to the poison topic).
-- +goose Up
CREATE TABLE saga_commands (
    command_id  TEXT        PRIMARY KEY,
    saga_id     TEXT        NOT NULL REFERENCES saga_instances (id) ON DELETE CASCADE,
    step        TEXT        NOT NULL,
    adapter_id  TEXT        NOT NULL,
    kind        TEXT        NOT NULL,
    sent_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    outcome     TEXT,
    reply       JSONB,
    replied_at  TIMESTAMPTZ
);
CREATE INDEX saga_commands_saga ON saga_commands (saga_id, sent_at);

CREATE TABLE saga_unroutable (
    intent_id   TEXT        PRIMARY KEY,
    intent      TEXT        NOT NULL,
    subject     TEXT        NOT NULL,
    reason      TEXT        NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX saga_instances_listing ON saga_instances (created_at DESC);

-- +goose Down
DROP INDEX saga_instances_listing;
DROP TABLE saga_unroutable;
DROP TABLE saga_commands;

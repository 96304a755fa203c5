-- Saga instances of the orchestrator. version is the optimistic lock; at most one active instance
-- per (workflow, correlation_key): a second intent for the same subject joins the running one.
-- +goose Up
CREATE TABLE saga_instances (
    id              TEXT        PRIMARY KEY,
    workflow        TEXT        NOT NULL,
    correlation_key TEXT        NOT NULL,
    step            TEXT        NOT NULL,
    status          TEXT        NOT NULL,
    data            JSONB       NOT NULL DEFAULT '{}',
    version         BIGINT      NOT NULL DEFAULT 1,
    deadline        TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX saga_instances_one_active ON saga_instances (workflow, correlation_key)
    WHERE status = 'running';

-- The timeline of each saga: what happened at each step.
CREATE TABLE saga_steps (
    saga_id     TEXT        NOT NULL REFERENCES saga_instances (id) ON DELETE CASCADE,
    seq         INT         NOT NULL,
    step        TEXT        NOT NULL,
    event       TEXT        NOT NULL,
    detail      JSONB       NOT NULL DEFAULT '{}',
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (saga_id, seq)
);

-- +goose Down
DROP TABLE saga_steps;
DROP TABLE saga_instances;

-- Replay support. processed_messages records the order in which each consumer applied messages:
-- seq in insertion order and the inserting transaction's id, so a replay can fold exactly the
-- events the live projection applied, in the order it applied them (see projections/infrastate
-- replay.go). Rows from before this migration share one transaction id and get seq in table order.
-- projection_replays remembers how far an interrupted replay got.
-- +goose Up
ALTER TABLE processed_messages
    ADD COLUMN seq BIGSERIAL,
    ADD COLUMN transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX processed_messages_order ON processed_messages (consumer, transaction_id, seq);

CREATE TABLE projection_replays (
    projection       TEXT        PRIMARY KEY,
    shadow_table     TEXT        NOT NULL,
    source           TEXT        NOT NULL,
    last_transaction xid8        NOT NULL,
    last_seq         BIGINT      NOT NULL,
    folded           BIGINT      NOT NULL DEFAULT 0,
    started_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- What a replay from Kafka read (omni replay --from kafka): the records of the events topic.
CREATE TABLE replay_source (
    event_id TEXT  PRIMARY KEY,
    metadata JSONB NOT NULL,
    payload  BYTEA NOT NULL
);

-- +goose Down
DROP TABLE replay_source;
DROP TABLE IF EXISTS infrastructure_state_replay, infrastructure_state_previous;
DROP TABLE projection_replays;
DROP INDEX processed_messages_order;
ALTER TABLE processed_messages DROP COLUMN transaction_id, DROP COLUMN seq;

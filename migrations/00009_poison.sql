-- Messages that can never be handled, one row per consumer group and message, written in the
-- transaction that gives up on it together with the group's inbox claim of it
-- (processed_messages, consumer "<group>.poison"), so a message poisoned again is recorded once.
-- The payload is kept whole up to the store's limit and cut there otherwise; payload_bytes and
-- payload_sha256 are always the whole payload's. A copy, bounded the same way, goes to the
-- group's poison topic through the outbox.
-- +goose Up
CREATE TABLE poison_messages (
    id             BIGSERIAL   PRIMARY KEY,
    consumer_group TEXT        NOT NULL,
    message_id     TEXT        NOT NULL,
    -- topic the message was consumed from: a Kafka topic, or "outbox" for a row the relay could not deliver
    topic          TEXT        NOT NULL,
    -- where it was: the Kafka partition and offset, or (partition NULL) the outbox row's offset
    kafka_partition INT,
    "offset"       BIGINT,
    reason         TEXT        NOT NULL,
    metadata       JSONB       NOT NULL,
    payload        BYTEA       NOT NULL,
    payload_bytes  BIGINT      NOT NULL,
    payload_sha256 TEXT        NOT NULL,
    truncated      BOOLEAN     NOT NULL,
    poisoned_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (consumer_group, message_id)
);
CREATE INDEX poison_messages_poisoned_at ON poison_messages (poisoned_at);

-- The outbox's retention deletes delivered rows by age.
CREATE INDEX watermill_outbox_created_at ON watermill_outbox (created_at);

-- +goose Down
DROP INDEX watermill_outbox_created_at;
DROP TABLE poison_messages;

-- The transactional outbox: watermill-sql v4's default PostgreSQL schema for the forwarder topic
-- "outbox" (see outbox.ForwarderTopic). Created here rather than by watermill's auto-initialisation,
-- which would run DDL inside callers' transactions.
-- +goose Up
CREATE TABLE watermill_outbox (
    "offset" BIGSERIAL,
    "uuid" VARCHAR(36) NOT NULL,
    "created_at" TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "payload" JSON DEFAULT NULL,
    "metadata" JSON DEFAULT NULL,
    "transaction_id" xid8 NOT NULL,
    PRIMARY KEY ("transaction_id", "offset")
);

CREATE TABLE watermill_offsets_outbox (
    consumer_group VARCHAR(255) NOT NULL,
    offset_acked BIGINT,
    last_processed_transaction_id xid8 NOT NULL,
    PRIMARY KEY (consumer_group)
);

-- +goose Down
DROP TABLE watermill_offsets_outbox;
DROP TABLE watermill_outbox;

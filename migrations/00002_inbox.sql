-- Messages a consumer has already handled. A consumer inserts the message id in the same
-- transaction as its effect; a redelivered message finds its row and does nothing.
-- +goose Up
CREATE TABLE processed_messages (
    consumer     TEXT        NOT NULL,
    message_id   TEXT        NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

-- Commands an adapter has executed, with the outcome, so a redelivered command is answered from
-- here rather than executed again.
CREATE TABLE processed_commands (
    command_id   TEXT        PRIMARY KEY,
    adapter      TEXT        NOT NULL,
    kind         TEXT        NOT NULL,
    outcome      JSONB,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE processed_commands;
DROP TABLE processed_messages;

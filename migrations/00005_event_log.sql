-- The event log: every message published through the outbox, kept in PostgreSQL so that a
-- projection can be rebuilt without depending on Kafka's retention. Rows are appended in the
-- publisher's own transaction (outbox.Publish); they are never updated, and deleted only by the
-- retention cleanup (outbox.TrimEventLog), which says so through the omni.event_log_trim setting.
-- +goose Up
CREATE TABLE event_log (
    seq            BIGSERIAL   PRIMARY KEY,
    event_id       TEXT        NOT NULL UNIQUE,
    topic          TEXT        NOT NULL,
    kind           TEXT        NOT NULL,
    version        INT         NOT NULL,
    key            TEXT        NOT NULL,
    occurred_at    TIMESTAMPTZ NOT NULL,
    metadata       JSONB       NOT NULL,
    payload        BYTEA       NOT NULL,
    transaction_id xid8        NOT NULL DEFAULT pg_current_xact_id(),
    logged_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX event_log_topic_seq ON event_log (topic, seq);
CREATE INDEX event_log_logged_at ON event_log (logged_at);

-- +goose StatementBegin
CREATE FUNCTION event_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('omni.event_log_trim', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'event_log is append-only: % refused', TG_OP;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER event_log_append_only BEFORE UPDATE OR DELETE ON event_log
    FOR EACH ROW EXECUTE FUNCTION event_log_append_only();
CREATE TRIGGER event_log_no_truncate BEFORE TRUNCATE ON event_log
    FOR EACH STATEMENT EXECUTE FUNCTION event_log_append_only();

-- +goose Down
DROP TABLE event_log;
DROP FUNCTION event_log_append_only();

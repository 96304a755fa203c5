-- The keyring: data keys (sealing sensitive fields) and MAC keys (authenticating messages), each
-- wrapped by a key-encryption key that is never in this database (a file, the environment, or
-- Vault transit). One primary per purpose; older keys stay readable until `omni keys retire`
-- erases their wrapped secret.
-- +goose Up
CREATE TABLE seal_keys (
    id         text PRIMARY KEY,
    purpose    text NOT NULL CHECK (purpose IN ('data', 'mac')),
    state      text NOT NULL CHECK (state IN ('primary', 'active', 'retired')),
    wrapped    bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    demoted_at timestamptz,
    retired_at timestamptz,
    CHECK ((state = 'retired') = (wrapped IS NULL))
);
CREATE UNIQUE INDEX seal_keys_one_primary ON seal_keys (purpose) WHERE state = 'primary';

-- Rewrapping re-seals the event log's rows under the primary keys: the one change the log takes,
-- only of payload and metadata, and only in a transaction that says so (omni keys rewrap).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION event_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('omni.event_log_trim', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND current_setting('omni.event_log_rewrap', true) = 'on'
       AND (NEW.seq, NEW.event_id, NEW.topic, NEW.kind, NEW.version, NEW.key, NEW.occurred_at, NEW.transaction_id, NEW.logged_at)
           IS NOT DISTINCT FROM (OLD.seq, OLD.event_id, OLD.topic, OLD.kind, OLD.version, OLD.key, OLD.occurred_at, OLD.transaction_id, OLD.logged_at) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'event_log is append-only: % refused', TG_OP;
END;
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION event_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('omni.event_log_trim', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'event_log is append-only: % refused', TG_OP;
END;
$$;
-- +goose StatementEnd
DROP TABLE seal_keys;

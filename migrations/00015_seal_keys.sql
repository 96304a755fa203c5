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
-- only of payload and metadata, and only in a transaction that has appended an
-- event_log.rewrapped audit entry (outbox.Rewrap, given audit.RecordRewrap, does both), so, like a
-- trim (00014), a rewrite of the log always leaves an entry the Merkle tree covers.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION event_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (NEW.seq, NEW.event_id, NEW.topic, NEW.kind, NEW.version, NEW.key, NEW.occurred_at, NEW.transaction_id, NEW.logged_at)
           IS NOT DISTINCT FROM (OLD.seq, OLD.event_id, OLD.topic, OLD.kind, OLD.version, OLD.key, OLD.occurred_at, OLD.transaction_id, OLD.logged_at)
       AND EXISTS (SELECT 1 FROM audit_entries WHERE action = 'event_log.rewrapped' AND xid = pg_current_xact_id()) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'event_log is append-only: % refused (only a rewrap that appends an event_log.rewrapped audit entry in its transaction may change a row''s payload and metadata)', TG_OP;
END;
$$;
-- +goose StatementEnd
CREATE INDEX audit_entries_rewraps ON audit_entries (xid) WHERE action = 'event_log.rewrapped';

-- +goose Down
DROP INDEX audit_entries_rewraps;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION event_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'event_log is append-only: % refused', TG_OP;
END;
$$;
-- +goose StatementEnd
DROP TABLE seal_keys;

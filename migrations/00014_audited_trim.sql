-- The audit log's second migration.
--
-- Trimming the event log is an audited operation: a DELETE from event_log is allowed only in a
-- transaction that has appended an event_log.trimmed entry to the audit log (outbox.TrimEventLog,
-- given audit.RecordTrim, does both), so every trim leaves an entry the Merkle tree covers. The
-- omni.event_log_trim setting, which any session could set, no longer opens the table.
--
-- Each audit entry keeps the id of the transaction that appended it (xid, not part of its leaf:
-- it says nothing about what was done). Entries appended before this migration have none.
-- +goose Up
ALTER TABLE audit_entries ADD COLUMN xid xid8;
ALTER TABLE audit_entries ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
CREATE INDEX audit_entries_trims ON audit_entries (xid) WHERE action = 'event_log.trimmed';
-- A security event names the sender of the refused command: the command.sent entry's actor.
CREATE INDEX audit_entries_commands ON audit_entries ((detail->>'command_id')) WHERE action = 'command.sent';

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION event_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'event_log is append-only: % refused', TG_OP;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION event_log_trim_audited() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM audit_entries WHERE action = 'event_log.trimmed' AND xid = pg_current_xact_id()) THEN
        RETURN NULL;
    END IF;
    IF current_setting('omni.event_log_trim', true) = 'on' THEN
        RAISE EXCEPTION 'event_log is append-only: DELETE refused (omni.event_log_trim no longer allows it: a trim must append an event_log.trimmed audit entry in its transaction, as outbox.TrimEventLog does)';
    END IF;
    RAISE EXCEPTION 'event_log is append-only: DELETE refused (only a trim that appends an event_log.trimmed audit entry in its transaction may delete)';
END;
$$;
-- +goose StatementEnd

-- One check per statement rather than per row: a trim deletes many rows.
DROP TRIGGER event_log_append_only ON event_log;
CREATE TRIGGER event_log_append_only BEFORE UPDATE ON event_log
    FOR EACH ROW EXECUTE FUNCTION event_log_append_only();
CREATE TRIGGER event_log_trim_audited BEFORE DELETE ON event_log
    FOR EACH STATEMENT EXECUTE FUNCTION event_log_trim_audited();

-- +goose Down
DROP TRIGGER event_log_trim_audited ON event_log;
DROP FUNCTION event_log_trim_audited();
DROP TRIGGER event_log_append_only ON event_log;
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
CREATE TRIGGER event_log_append_only BEFORE UPDATE OR DELETE ON event_log
    FOR EACH ROW EXECUTE FUNCTION event_log_append_only();
DROP INDEX audit_entries_commands;
DROP INDEX audit_entries_trims;
ALTER TABLE audit_entries DROP COLUMN xid;

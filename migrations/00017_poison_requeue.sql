-- What an operator did with each poisoned message (omni poison requeue|discard, the console), and
-- the link of a message poisoned again after a requeue to the record it was requeued from. A
-- requeued message that fails again is a new row (its message_id is the original's with
-- "/requeue-N"), never the old row again, so nothing requeues itself in a loop.
-- The saga listing indexes keep the console's keyset pages fast with the filters it offers; the
-- event log's history index gives a target's history without walking its probes (partial: the
-- routine events, several a second, are left out — console.History's WHERE repeats its
-- predicate word for word so the planner can use it), updated_at the console's live-update check.
-- +goose Up
ALTER TABLE poison_messages
    ADD COLUMN status        TEXT        NOT NULL DEFAULT 'poisoned'
        CHECK (status IN ('poisoned', 'requeued', 'discarded')),
    ADD COLUMN resolved_by   TEXT,
    ADD COLUMN resolved_at   TIMESTAMPTZ,
    ADD COLUMN requeue_count INT         NOT NULL DEFAULT 0,
    -- a record trimmed by the retention leaves its requeues unlinked, not undeletable
    ADD COLUMN requeued_from BIGINT      REFERENCES poison_messages (id) ON DELETE SET NULL;
CREATE INDEX poison_messages_open ON poison_messages (status, id);
CREATE INDEX saga_instances_status_listing ON saga_instances (status, created_at DESC, id);
CREATE INDEX saga_instances_workflow_listing ON saga_instances (workflow, created_at DESC, id);
CREATE INDEX saga_instances_subject_listing ON saga_instances (correlation_key, created_at DESC, id);
CREATE INDEX saga_instances_updated_at ON saga_instances (updated_at);
CREATE INDEX event_log_history ON event_log (key, seq)
    WHERE kind <> ALL (ARRAY['adapter_health_reported', 'connection_pool_stats_reported', 'probe_target'])
      AND NOT (kind = 'command_succeeded' AND position('"command":"probe_target/'::bytea IN payload) > 0);

-- +goose Down
DROP INDEX event_log_history;
DROP INDEX saga_instances_updated_at;
DROP INDEX saga_instances_subject_listing;
DROP INDEX saga_instances_workflow_listing;
DROP INDEX saga_instances_status_listing;
DROP INDEX poison_messages_open;
ALTER TABLE poison_messages DROP COLUMN requeued_from, DROP COLUMN requeue_count, DROP COLUMN resolved_at,
    DROP COLUMN resolved_by, DROP COLUMN status;

-- Rate limits (platform/ratelimit): the GCRA state every adapter process shares, so that a limit
-- holds across all of them exactly. One row per rule and key (a client, an endpoint, a target):
-- its theoretical arrival time. A check locks the rows it reads (SELECT … FOR UPDATE, keys in
-- order) and writes them back in the same transaction, so two processes never spend the same
-- token. Rows whose tat is long past are equal to no row, and are purged.
-- +goose Up
CREATE TABLE rate_limit_state (
    key text PRIMARY KEY,
    tat timestamptz NOT NULL
);
CREATE INDEX rate_limit_state_tat ON rate_limit_state (tat);

-- The requests (commands) already charged: a command delivered again, or tried again after a
-- transient error, is not charged a second time.
CREATE TABLE rate_limit_charges (
    request_id text PRIMARY KEY,
    charged_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rate_limit_charges_charged_at ON rate_limit_charges (charged_at);

-- Who sent a command is its command.sent audit entry's actor: the client a per-client limit
-- counts. Read once per command, so it must not scan the log.
CREATE INDEX audit_entries_command_sent ON audit_entries ((detail->>'command_id')) WHERE action = 'command.sent';

-- +goose Down
DROP INDEX audit_entries_command_sent;
DROP TABLE rate_limit_charges;
DROP TABLE rate_limit_state;

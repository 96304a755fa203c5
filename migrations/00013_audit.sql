-- The audit log: each entry a leaf of an RFC 6962 Merkle tree (leaf = its hash, see package
-- audit), appended in the transaction of what it records and never changed: a trigger refuses
-- UPDATE, DELETE and TRUNCATE with no way around it for an ordinary session. The checkpoints are
-- the tree's signed heads; their copies outside the database (the infra.audit topic) are what a
-- rewrite of these tables cannot reach.
-- +goose Up
CREATE TABLE audit_entries (
    seq     bigint PRIMARY KEY,
    at      timestamptz NOT NULL,
    actor   text NOT NULL,
    action  text NOT NULL,
    subject text NOT NULL,
    outcome text NOT NULL,
    detail  jsonb NOT NULL,
    leaf    bytea NOT NULL
);

CREATE TABLE audit_checkpoints (
    size      bigint PRIMARY KEY,
    root      bytea NOT NULL,
    signed_at timestamptz NOT NULL,
    key_id    text NOT NULL,
    signature bytea NOT NULL
);

-- +goose StatementBegin
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

-- +goose Down
DROP TABLE audit_checkpoints;
DROP TABLE audit_entries;
DROP FUNCTION audit_append_only();

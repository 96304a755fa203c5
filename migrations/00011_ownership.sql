-- Each adapter target is owned by one adapter process at a time: the owner probes it and executes
-- its commands, under a lease it renews; another process takes the target over once the lease has
-- run out. token is a fencing token: it grows at every new owner, and what an owner writes about
-- its target (target_breakers) is refused once a newer owner has written.
-- +goose Up
CREATE TABLE target_leases (
    adapter_id  text PRIMARY KEY,
    owner       text NOT NULL,
    token       bigint NOT NULL,
    acquired_at timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);

-- The adapter processes alive, so that each takes its share of the targets.
CREATE TABLE adapter_members (
    adapter    text NOT NULL,
    member     text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (adapter, member)
);

-- Each target's circuit breaker as last recorded (effect.Circuit as JSON), written in the
-- transaction that records the outcome that moved it, by the owner holding owner_token.
CREATE TABLE target_breakers (
    adapter_id  text PRIMARY KEY,
    circuit     jsonb NOT NULL,
    owner_token bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Commands that reached an adapter process that does not own their target, kept until the owner
-- executes them; deleted in the transaction that records their outcome.
CREATE TABLE handed_commands (
    command_id text PRIMARY KEY,
    adapter_id text NOT NULL,
    uuid       text NOT NULL,
    metadata   jsonb NOT NULL,
    payload    bytea NOT NULL,
    handed_by  text NOT NULL,
    handed_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX handed_commands_adapter_id ON handed_commands (adapter_id, handed_at);

-- What a driver keeps about its targets beyond one process (the Consul services to register
-- again on recovery), written in the transaction that records the command that changed it.
CREATE TABLE target_memory (
    adapter_id text NOT NULL,
    kind       text NOT NULL,
    key        text NOT NULL,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (adapter_id, kind, key)
);

-- +goose Down
DROP TABLE target_memory;
DROP TABLE handed_commands;
DROP TABLE target_breakers;
DROP TABLE adapter_members;
DROP TABLE target_leases;

-- Each workflow's own fields of saga_instances.data move under "state", in that workflow's shape
-- (sagas.HealthCheckState, FailoverState, InitializationState); the engine's progress stays at
-- the top level. Before, the fields of every workflow mixed there with the engine's: targets,
-- states, health, overall, recovered.
--   health_check:   state {targets, states, health, overall}
--   failover:       state {target: its one target, recovered}
--   initialization: state {targets}
-- The failover's and the initialization's states were written and never read: they are dropped,
-- and the down step cannot bring them back (the version before this one never read them either).
-- Rows already in the new shape are left alone, so the step can run over a half-migrated table.
-- +goose Up
UPDATE saga_instances
SET data = (data - 'targets' - 'states' - 'health' - 'overall' - 'recovered')
    || jsonb_build_object('state', jsonb_strip_nulls(CASE workflow
        WHEN 'health_check' THEN jsonb_build_object('targets', data->'targets', 'states', data->'states',
            'health', data->'health', 'overall', data->'overall')
        WHEN 'failover' THEN jsonb_build_object('target', data->'targets'->0, 'recovered', data->'recovered')
        ELSE jsonb_build_object('targets', data->'targets')
    END))
WHERE workflow IN ('health_check', 'failover', 'initialization') AND data->'state' IS NULL;

-- +goose Down
UPDATE saga_instances
SET data = (data - 'state') || jsonb_strip_nulls(CASE workflow
        WHEN 'failover' THEN jsonb_build_object(
            'targets', CASE WHEN data->'state'->'target' IS NOT NULL THEN jsonb_build_array(data->'state'->'target') END,
            'recovered', data->'state'->'recovered')
        ELSE data->'state'
    END)
WHERE workflow IN ('health_check', 'failover', 'initialization') AND data->'state' IS NOT NULL;

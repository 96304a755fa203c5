package effect

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// Memory is what a driver keeps about one target in target_memory, as (kind, key) → JSON value.
type Memory struct {
	tx        pgx.Tx
	adapterID string
}

// Put keeps value under kind and key.
func (m Memory) Put(ctx context.Context, kind, key string, value any) error {
	raw, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("could not encode %s %q of %s: %w", kind, key, m.adapterID, err)
	}
	if _, err := m.tx.Exec(ctx, `INSERT INTO target_memory (adapter_id, kind, key, value) VALUES ($1, $2, $3, $4)
		ON CONFLICT (adapter_id, kind, key) DO UPDATE SET value = excluded.value, updated_at = now()`,
		m.adapterID, kind, key, raw); err != nil {
		return fmt.Errorf("could not keep %s %q of %s: %w", kind, key, m.adapterID, err)
	}
	return nil
}

// Delete forgets kind and key.
func (m Memory) Delete(ctx context.Context, kind, key string) error {
	if _, err := m.tx.Exec(ctx, `DELETE FROM target_memory WHERE adapter_id = $1 AND kind = $2 AND key = $3`,
		m.adapterID, kind, key); err != nil {
		return fmt.Errorf("could not forget %s %q of %s: %w", kind, key, m.adapterID, err)
	}
	return nil
}

// Recall reads back every value kept under kind for adapterID, by key, decoding each with decode.
func Recall(ctx context.Context, db pgtx.Querier, adapterID, kind string, decode func(key string, value []byte) error) error {
	rows, err := db.Query(ctx, `SELECT key, value FROM target_memory WHERE adapter_id = $1 AND kind = $2 ORDER BY key`,
		adapterID, kind)
	if err != nil {
		return fmt.Errorf("could not read the %s of %s: %w", kind, adapterID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var value []byte
		if err := rows.Scan(&key, &value); err != nil {
			return fmt.Errorf("could not read the %s of %s: %w", kind, adapterID, err)
		}
		if err := decode(key, value); err != nil {
			return fmt.Errorf("%s %q of %s: %w", kind, key, adapterID, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("could not read the %s of %s: %w", kind, adapterID, err)
	}
	return nil
}

package infrastate

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// compareTables lists every field on which two state tables disagree.
func compareTables(ctx context.Context, q pgtx.Querier, live, replayed string) ([]Difference, error) {
	read := func(table string) (map[string]map[string]any, error) {
		rows, err := q.Query(ctx, `SELECT adapter_id, data FROM `+table)
		if err != nil {
			return nil, fmt.Errorf("could not read %s: %w", table, err)
		}
		out := map[string]map[string]any{}
		var id string
		var data map[string]any
		_, err = pgx.ForEachRow(rows, []any{&id, &data}, func() error {
			out[id] = flatten("", data, map[string]any{})
			data = nil
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("could not read %s: %w", table, err)
		}
		return out, nil
	}
	a, err := read(live)
	if err != nil {
		return nil, err
	}
	b, err := read(replayed)
	if err != nil {
		return nil, err
	}
	var diffs []Difference
	for _, id := range slices.Sorted(maps.Keys(union(a, b))) {
		la, inA := a[id]
		lb, inB := b[id]
		if !inA || !inB {
			diffs = append(diffs, Difference{AdapterID: id, Live: present(inA), Replayed: present(inB)})
			continue
		}
		for _, f := range slices.Sorted(maps.Keys(union(la, lb))) {
			va, vb := show(la[f]), show(lb[f])
			if va != vb {
				diffs = append(diffs, Difference{AdapterID: id, Field: f, Live: va, Replayed: vb})
			}
		}
	}
	return diffs, nil
}

func flatten(prefix string, m map[string]any, out map[string]any) map[string]any {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			flatten(prefix+k+".", sub, out)
			continue
		}
		out[prefix+k] = v
	}
	return out
}

func union[V any](a, b map[string]V) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func present(ok bool) string {
	if ok {
		return "present"
	}
	return "absent"
}

func show(v any) string {
	if v == nil {
		return "null"
	}
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

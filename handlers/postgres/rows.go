package postgres

import (
	"bytes"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/omninode/omnibase-infra/events"
)

// ErrResultTooLarge is returned, wrapped, for a query whose result passes max_rows or
// MaxResultBytes: a result is never truncated.
var ErrResultTooLarge = errors.New("result too large")

// collector gathers a query's rows as JSON within the caps.
type collector struct {
	maxRows  int64
	maxBytes int
	bytes    int
	oids     []uint32
	result   events.PostgresQueryResult
}

// newCollector collects rows of the named columns, whose type OIDs are oids.
func newCollector(columns []string, oids []uint32, maxRows int64, maxBytes int) (*collector, error) {
	c := &collector{maxRows: maxRows, maxBytes: maxBytes, oids: oids,
		result: events.PostgresQueryResult{Columns: columns, Rows: []json.RawMessage{}}}
	head, err := json.Marshal(columns)
	if err != nil {
		return nil, fmt.Errorf("could not encode the column names: %w", err)
	}
	return c, c.grow(len(head) + len(`{"columns":,"rows":[],"row_count":}`))
}

// effectiveMaxRows is the row cap of a query asking for requested rows (0: the default) under
// the configured ceiling.
func effectiveMaxRows(requested, ceiling int64) int64 {
	if requested <= 0 || requested > ceiling {
		return ceiling
	}
	return requested
}

// add appends one row: values as pgx decoded them (rows.Values), and their raw bytes as the
// server sent them (rows.RawValues), which json and jsonb columns are taken from, so that
// their numbers keep every digit.
func (c *collector) add(values []any, raw [][]byte) error {
	if int64(len(c.result.Rows)) >= c.maxRows {
		return fmt.Errorf("%w: query returned more than %d rows (max_rows)", ErrResultTooLarge, c.maxRows)
	}
	row := make([]any, len(values))
	for i, v := range values {
		var oid uint32
		if i < len(c.oids) {
			oid = c.oids[i]
		}
		switch {
		case v == nil:
		case (oid == pgtype.JSONOID || oid == pgtype.JSONBOID) && i < len(raw) && raw[i] != nil:
			row[i] = json.RawMessage(jsonText(raw[i]))
		case oid == pgtype.DateOID:
			row[i] = timeText(v, time.DateOnly)
		case oid == pgtype.TimestampOID:
			row[i] = timeText(v, "2006-01-02T15:04:05.999999999")
		default:
			row[i] = jsonValue(v)
		}
	}
	encoded, err := json.Marshal(row)
	if err != nil {
		return fmt.Errorf("could not encode row %d as JSON: %w", len(c.result.Rows)+1, err)
	}
	if err := c.grow(len(encoded) + 1); err != nil {
		return err
	}
	c.result.Rows = append(c.result.Rows, encoded)
	c.result.RowCount++
	return nil
}

func (c *collector) grow(n int) error {
	c.bytes += n
	if c.bytes > c.maxBytes {
		return fmt.Errorf("%w: query result is larger than %d bytes (max_result_bytes)", ErrResultTooLarge, c.maxBytes)
	}
	return nil
}

// timeText formats a time with layout; anything else (±infinity) goes to jsonValue.
func timeText(v any, layout string) any {
	if t, ok := v.(time.Time); ok {
		return t.Format(layout)
	}
	return jsonValue(v)
}

// jsonText is the JSON text of a json or jsonb value in either format: binary jsonb starts
// with its version byte, 1.
func jsonText(raw []byte) []byte {
	if len(raw) > 0 && raw[0] == 1 {
		raw = raw[1:]
	}
	return bytes.Clone(raw)
}

// jsonValue turns a value pgx decoded into one that encodes to readable JSON:
//
//   - numbers, strings, booleans and NULL as themselves; NaN and ±Infinity floats as the strings
//     "NaN", "Infinity" and "-Infinity";
//   - numeric as a JSON number with every digit (NaN and infinities as strings);
//   - timestamptz as an RFC 3339 string in UTC, timestamp the same without the zone, date as
//     "2006-01-02", ±infinity as "infinity" and "-infinity";
//   - uuid as its canonical text; bytea as PostgreSQL's hex text, "\x0102";
//   - arrays as JSON arrays; intervals, times of day, inet and others as their text.
func jsonValue(v any) any {
	switch v := v.(type) {
	case nil, bool, string, int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, uint:
		return v
	case float32:
		return float(float64(v))
	case float64:
		return float(v)
	case []byte:
		return `\x` + hex.EncodeToString(v)
	case [16]byte:
		return fmt.Sprintf("%x-%x-%x-%x-%x", v[0:4], v[4:6], v[6:8], v[8:10], v[10:16])
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case pgtype.InfinityModifier:
		return v.String()
	case pgtype.Numeric:
		return v // its MarshalJSON writes every digit
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jsonValue(e)
		}
		return out
	case map[string]any, json.Marshaler:
		return v
	case driver.Valuer:
		if dv, err := v.Value(); err == nil {
			if _, again := dv.(driver.Valuer); !again {
				return jsonValue(dv)
			}
		}
	case fmt.Stringer:
		return v.String()
	}
	return v
}

func float(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}

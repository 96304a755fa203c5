package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/handlers/postgres"
)

func raws(args ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(args))
	for i, a := range args {
		out[i] = json.RawMessage(a)
	}
	return out
}

func TestConvertArgs_maps_each_json_value_to_a_parameter(t *testing.T) {
	cases := []struct {
		name string
		arg  string
		want any
	}{
		{"string", `"apple"`, "apple"},
		{"escaped_string", `"caf\u00e9 \"x\""`, `café "x"`},
		{"timestamp_as_string", `"2024-05-01T12:00:00Z"`, "2024-05-01T12:00:00Z"},
		{"integer", `42`, int64(42)},
		{"negative_integer", `-7`, int64(-7)},
		{"int64_max", `9223372036854775807`, int64(math.MaxInt64)},
		{"integer_valued_decimal", `1.0`, int64(1)},
		{"integer_valued_exponent", `1e3`, int64(1000)},
		{"decimal", `1.25`, 1.25},
		{"small_exponent", `2.5e-3`, 0.0025},
		{"integer_beyond_int64_keeps_its_digits", `123456789012345678901234567890`, "123456789012345678901234567890"},
		{"integral_float_beyond_int64", `1e19`, 1e19},
		{"true", `true`, true},
		{"false", `false`, false},
		{"null", `null`, nil},
		{"object_as_raw_json", `{"a": [1, 2.5]}`, json.RawMessage(`{"a": [1, 2.5]}`)},
		{"array_as_raw_json", `[1,"x"]`, json.RawMessage(`[1,"x"]`)},
		{"padded", " 5 ", int64(5)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := postgres.ConvertArgs(raws(c.arg))
			require.NoError(t, err)
			require.Equal(t, []any{c.want}, got)
		})
	}
}

func TestConvertArgs_a_bad_argument_is_named(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"number_out_of_range", []string{`1`, `1e400`}, "bad argument: args[1]: number 1e400 does not fit a float64"},
		{"not_json", []string{`{`}, "bad argument: args[0]: not a JSON value"},
		{"empty", []string{``}, "bad argument: args[0]: not a JSON value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := postgres.ConvertArgs(raws(c.args...))
			require.ErrorIs(t, err, postgres.ErrBadArgument)
			require.EqualError(t, err, c.want)
			require.False(t, postgres.Transient(err), "a bad argument is never retried")
		})
	}
}

func TestTransient_connection_problems_are_and_statement_errors_are_not(t *testing.T) {
	pgErr := func(code string) error { return &pgconn.PgError{Severity: "ERROR", Code: code, Message: "x"} }
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection_failure_08006", pgErr("08006"), true},
		{"cannot_connect_08001", pgErr("08001"), true},
		{"too_many_connections_53300", pgErr("53300"), true},
		{"disk_full_53100", pgErr("53100"), true},
		{"admin_shutdown_57P01", pgErr("57P01"), true},
		{"crash_shutdown_57P02", pgErr("57P02"), true},
		{"cannot_connect_now_57P03", pgErr("57P03"), true},
		{"serialization_failure_40001", pgErr("40001"), true},
		{"deadlock_40P01", pgErr("40P01"), true},
		{"wrapped_server_error", fmt.Errorf("statements[1]: %w", pgErr("40P01")), true},
		{"syntax_42601", pgErr("42601"), false},
		{"undefined_table_42P01", pgErr("42P01"), false},
		{"unique_violation_23505", pgErr("23505"), false},
		{"invalid_text_22P02", pgErr("22P02"), false},
		{"read_only_standby_25006", pgErr("25006"), false},
		{"query_canceled_57014", pgErr("57014"), false},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"unexpected_eof", fmt.Errorf("receive message failed: %w", io.ErrUnexpectedEOF), true},
		{"dns", &net.DNSError{Err: "no such host", Name: "db"}, true},
		{"cancelled", context.Canceled, false},
		{"cancelled_while_the_server_was_down", errors.Join(context.Canceled, pgErr("08006")), false},
		{"command_deadline", fmt.Errorf("%w: %w", context.DeadlineExceeded, pgErr("57014")), true},
		{"deadline_before_the_connection_was_made", fmt.Errorf("could not connect: %w", context.DeadlineExceeded), true},
		{"bad_argument", fmt.Errorf("%w: args[0]: x", postgres.ErrBadArgument), false},
		{"result_too_large", fmt.Errorf("%w: query returned more than 3 rows (max_rows)", postgres.ErrResultTooLarge), false},
		{"wrong_argument_count", errors.New("expected 1 arguments, got 0"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, postgres.Transient(c.err), "%v", c.err)
		})
	}
}

func TestTransient_a_failed_connect_is(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = pgconn.Connect(ctx, fmt.Sprintf("postgres://app@127.0.0.1:%d/orders?sslmode=disable", port))
	var connectErr *pgconn.ConnectError
	require.ErrorAs(t, err, &connectErr)
	require.True(t, postgres.Transient(err))
}

func TestEffectiveMaxRows_defaults_to_and_never_passes_the_ceiling(t *testing.T) {
	require.Equal(t, int64(1000), postgres.EffectiveMaxRows(0, 1000))
	require.Equal(t, int64(10), postgres.EffectiveMaxRows(10, 1000))
	require.Equal(t, int64(1000), postgres.EffectiveMaxRows(1000, 1000))
	require.Equal(t, int64(1000), postgres.EffectiveMaxRows(5000, 1000))
}

func TestCollect_fails_past_either_cap_and_never_truncates(t *testing.T) {
	rowsOf := func(n int) [][]any {
		out := make([][]any, n)
		for i := range out {
			out[i] = []any{int64(i), "x"}
		}
		return out
	}
	cols, oids := []string{"n", "s"}, []uint32{pgtype.Int8OID, pgtype.TextOID}

	res, err := postgres.Collect(cols, oids, 3, 1<<20, rowsOf(3), nil)
	require.NoError(t, err, "exactly max_rows is fine")
	require.Equal(t, 3, res.RowCount)
	encoded, err := json.Marshal(res)
	require.NoError(t, err)
	require.JSONEq(t, `{"columns":["n","s"],"rows":[[0,"x"],[1,"x"],[2,"x"]],"row_count":3}`, string(encoded))

	_, err = postgres.Collect(cols, oids, 3, 1<<20, rowsOf(4), nil)
	require.ErrorIs(t, err, postgres.ErrResultTooLarge)
	require.ErrorContains(t, err, "query returned more than 3 rows (max_rows)")

	big := [][]any{{int64(1), strings.Repeat("x", 600)}, {int64(2), strings.Repeat("x", 600)}}
	res, err = postgres.Collect(cols, oids, 10, 2000, big, nil)
	require.NoError(t, err)
	encoded, err = json.Marshal(res)
	require.NoError(t, err)
	require.LessOrEqual(t, len(encoded), 2000, "the count covers the whole result")
	_, err = postgres.Collect(cols, oids, 10, 1000, big, nil)
	require.ErrorIs(t, err, postgres.ErrResultTooLarge)
	require.ErrorContains(t, err, "query result is larger than 1000 bytes (max_result_bytes)")

	res, err = postgres.Collect(cols, oids, 10, 1000, nil, nil)
	require.NoError(t, err)
	encoded, err = json.Marshal(res)
	require.NoError(t, err)
	require.JSONEq(t, `{"columns":["n","s"],"rows":[],"row_count":0}`, string(encoded), "no rows is an empty list, not null")
}

func TestCollect_json_dates_and_timestamps_by_column_type(t *testing.T) {
	day := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	at := time.Date(2024, 5, 1, 12, 30, 0, 500, time.UTC)
	// binary jsonb: version byte 1, then the text; a number beyond float64's precision
	jsonb := append([]byte{1}, `{"id": 12345678901234567890123}`...)
	res, err := postgres.Collect(
		[]string{"doc", "plain_json", "day", "at", "missing"},
		[]uint32{pgtype.JSONBOID, pgtype.JSONOID, pgtype.DateOID, pgtype.TimestampOID, pgtype.JSONBOID}, 10, 1<<20,
		[][]any{{map[string]any{"id": 1.2345678901234568e22}, []any{1.0}, day, at, nil}},
		[][][]byte{{jsonb, []byte(`[1]`), nil, nil, nil}})
	require.NoError(t, err)
	require.JSONEq(t, `[{"id": 12345678901234567890123}, [1], "2024-05-01", "2024-05-01T12:30:00.0000005", null]`,
		string(res.Rows[0]))
	require.Contains(t, string(res.Rows[0]), "12345678901234567890123", "every digit of the JSON number is kept")
}

func TestJSONValue_encodes_postgres_types_readably(t *testing.T) {
	uuid := [16]byte{0x55, 0x0e, 0x84, 0x00, 0xe2, 0x9b, 0x41, 0xd4, 0xa7, 0x16, 0x44, 0x66, 0x55, 0x44, 0x00, 0x00}
	var numeric pgtype.Numeric
	require.NoError(t, numeric.Scan("12345678901234567890.0123"))
	cases := []struct {
		name string
		in   any
		want string
	}{
		{"uuid", uuid, `"550e8400-e29b-41d4-a716-446655440000"`},
		{"bytea_as_hex", []byte{0x01, 0xab}, `"\\x01ab"`},
		{"timestamptz_in_utc", time.Date(2024, 5, 1, 14, 0, 0, 0, time.FixedZone("CEST", 2*3600)), `"2024-05-01T12:00:00Z"`},
		{"infinity", pgtype.Infinity, `"infinity"`},
		{"minus_infinity", pgtype.NegativeInfinity, `"-infinity"`},
		{"numeric_every_digit", numeric, `12345678901234567890.0123`},
		{"numeric_nan", pgtype.Numeric{NaN: true, Valid: true}, `"NaN"`},
		{"float_nan", math.NaN(), `"NaN"`},
		{"float_infinity", math.Inf(1), `"Infinity"`},
		{"float", 0.5, `0.5`},
		{"int", int32(7), `7`},
		{"array_of_uuids", []any{uuid, nil}, `["550e8400-e29b-41d4-a716-446655440000", null]`},
		{"inet", netip.MustParsePrefix("10.0.0.0/8"), `"10.0.0.0/8"`},
		{"interval", pgtype.Interval{Days: 1, Microseconds: 7200 * 1e6, Valid: true}, `"1 day 02:00:00"`},
		{"null", nil, `null`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := json.Marshal(postgres.JSONValue(c.in))
			require.NoError(t, err)
			require.JSONEq(t, c.want, string(out))
		})
	}
}

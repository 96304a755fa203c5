package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/internal/app"
)

type row struct {
	Name  string    `json:"name"`
	Count int       `json:"count"`
	At    time.Time `json:"at"`
	Note  string    `json:"note,omitempty"`
}

func render(t *testing.T, format string, rows []row) string {
	t.Helper()
	var b bytes.Buffer
	o := output{format: format}
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.Local)
	err := o.print(&b, map[string]any{"rows": rows}, rows, func(w io.Writer, wide bool) error {
		return writeTable(w, wide, []column[row]{
			{name: "name", value: func(r row) string { return r.Name }},
			{name: "count", value: func(r row) string { return fmt.Sprint(r.Count) }},
			{name: "at", value: func(r row) string { return tableTime(r.At, now) }},
			{name: "note", wide: true, max: 10, value: func(r row) string { return r.Note }},
		}, rows)
	})
	require.NoError(t, err)
	return b.String()
}

func TestOutput_every_format_carries_the_same_field_names(t *testing.T) {
	at := time.Date(2026, 12, 2, 9, 59, 55, 0, time.UTC)
	rows := []row{{Name: "a", Count: 1, At: at, Note: "first\nline"}, {Name: "b", Count: 2, At: at}}

	var doc struct {
		Rows []map[string]any `json:"rows"`
	}
	require.NoError(t, json.Unmarshal([]byte(render(t, formatJSON, rows)), &doc))
	require.Equal(t, "2026-12-02T09:59:55Z", doc.Rows[0]["at"], "JSON times are RFC 3339")

	yaml := render(t, formatYAML, rows)
	require.Contains(t, yaml, "name: a")
	require.Contains(t, yaml, "at: \"2026-12-02T09:59:55Z\"")

	lines := strings.Split(strings.TrimSpace(render(t, formatJSONL, rows)), "\n")
	require.Len(t, lines, 2, "one line per item")
	var first row
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &first))
	require.Equal(t, "a", first.Name)

	table := render(t, formatTable, rows)
	require.True(t, strings.HasPrefix(table, "NAME"), table)
	require.Contains(t, table, "COUNT")
	require.NotContains(t, table, "NOTE", "note is a wide column")
	wide := render(t, formatWide, rows)
	require.Contains(t, wide, "NOTE")
	require.Contains(t, wide, "first line", "a cell is on one line")
}

func TestOutput_an_unknown_format_is_a_usage_error(t *testing.T) {
	o := output{format: "xml"}
	_, err := o.Format()
	require.Error(t, err)
	require.Equal(t, exitUsage, exitCode(err))
	require.Contains(t, err.Error(), "want table, wide, json, yaml, jsonl")

	o = output{format: formatTable, json: true, jsonFormat: formatJSONL}
	f, err := o.Format()
	require.NoError(t, err)
	require.Equal(t, formatJSONL, f, "--json of a stream is JSON lines")
}

func TestTableTime_is_local_and_relative(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.Local)
	for name, tc := range map[string]struct {
		t    time.Time
		want string
	}{
		"zero":      {time.Time{}, "-"},
		"now":       {now, "10:00:00 (now)"},
		"seconds":   {now.Add(-5 * time.Second), "09:59:55 (5s ago)"},
		"minutes":   {now.Add(-3 * time.Minute), "09:57:00 (3m ago)"},
		"yesterday": {now.Add(-26 * time.Hour), "2026-12-01 08:00:00 (26h ago)"},
		"days":      {now.Add(-72 * time.Hour), "2026-11-29 10:00:00 (3d ago)"},
		"future":    {now.Add(10 * time.Second), "10:00:10 (in 10s)"},
	} {
		t.Run(name, func(t *testing.T) { require.Equal(t, tc.want, tableTime(tc.t, now)) })
	}
}

func TestExitCode_tells_failures_usage_and_unreachable_systems_apart(t *testing.T) {
	for name, tc := range map[string]struct {
		err  error
		want int
	}{
		"nil":                   {nil, 0},
		"a_failed_operation":    {errors.New("command x failed after 3 attempts"), exitFailed},
		"a_usage_error":         {usageError("--status %q: want …", "bad"), exitUsage},
		"an_invalid_config":     {fmt.Errorf("run: %w", app.Mark(errors.New("invalid config: x"), app.ErrInvalidConfig)), exitUsage},
		"an_unreachable_system": {fmt.Errorf("state: %w", app.Mark(errors.New("could not reach DATABASE_URL"), app.ErrUnreachable)), exitUnreachable},
		"cobra_unknown_command": {errors.New(`unknown command "stat" for "omni"`), exitUsage},
		"cobra_required_flag":   {errors.New(`required flag(s) "key-file" not set`), exitUsage},
	} {
		t.Run(name, func(t *testing.T) { require.Equal(t, tc.want, exitCode(tc.err)) })
	}
}

func TestErrorText(t *testing.T) {
	for name, tc := range map[string]struct {
		err  error
		want string
	}{
		"joined_problems_on_one_line": {
			errors.Join(errors.New("DATABASE_URL (--database-url) is not set"), errors.New("KAFKA_BROKERS (--kafka-brokers) is not set")),
			"DATABASE_URL (--database-url) is not set; KAFKA_BROKERS (--kafka-brokers) is not set",
		},
		"pgx_continuation_lines_stay_with_their_problem": {
			errors.New("could not reach DATABASE_URL: failed to connect to `user=u database=db`:\n\t127.0.0.1:1 (127.0.0.1): dial error\n\t[::1]:1 (::1): dial error"),
			"could not reach DATABASE_URL: failed to connect to `user=u database=db`: 127.0.0.1:1 (127.0.0.1): dial error [::1]:1 (::1): dial error",
		},
		"cobra_suggestions_as_cobra_wrote_them": {
			errors.New("unknown command \"stat\" for \"omni\"\n\nDid you mean this?\n\tstate\n"),
			"unknown command \"stat\" for \"omni\"\n\nDid you mean this?\n\tstate",
		},
	} {
		t.Run(name, func(t *testing.T) { require.Equal(t, tc.want, errorText(tc.err)) })
	}
}

func TestJSONProblem_speaks_of_the_payload_not_of_Go(t *testing.T) {
	type Statement struct {
		SQL string `json:"sql"`
	}
	var v struct {
		Statement
		Max int `json:"max_rows"`
	}
	err := json.Unmarshal([]byte(`{"sql":5}`), &v)
	require.Equal(t, `field "sql": want a string, got number`, jsonProblem(err))
	err = json.Unmarshal([]byte(`{"max_rows":"x"}`), &v)
	require.Equal(t, `field "max_rows": want a number, got string`, jsonProblem(err))
}

func TestPlural(t *testing.T) {
	require.Equal(t, "1 attempt", plural(1, "attempt"))
	require.Equal(t, "3 attempts", plural(3, "attempt"))
}

package console

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCursor_round_trips_and_refuses_what_it_did_not_make(t *testing.T) {
	at := time.Date(2026, 12, 2, 5, 30, 0, 123456000, time.UTC)
	c, err := parseCursor(CursorAt(at, "saga-0033333"))
	require.NoError(t, err)
	require.True(t, at.Equal(c.at))
	require.Equal(t, "saga-0033333", c.id)
	for _, bad := range []string{"not base64!", "bm90IGEgY3Vyc29y" /* "not a cursor" */} {
		_, err := parseCursor(bad)
		require.EqualError(t, err, "not a page cursor", bad)
	}
}

func TestReadTokens(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		text    string
		want    []token
		wantErr string
	}{
		"named_and_bare": {text: "# operators\nalice:0123456789abcdef\n\n0123456789abcdefgh\n",
			want: []token{{"alice", []byte("0123456789abcdef")}, {"operator", []byte("0123456789abcdefgh")}}},
		"short_token_names_its_line_not_the_token": {text: "bob:tiny-secret\n", wantErr: "line 1: a token must be at least 16 characters"},
		"empty": {text: "# nobody\n", wantErr: "holds no token"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			require.NoError(t, os.WriteFile(path, []byte(tc.text), 0o600))
			got, err := readTokens(path)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.NotContains(t, err.Error(), "tiny-secret", "a token is never in an error")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestLogin_compares_every_token(t *testing.T) {
	c := &Console{tokens: []token{{"alice", []byte("0123456789abcdef")}, {"bob", []byte("fedcba9876543210")}}}
	who, ok := c.login("fedcba9876543210")
	require.True(t, ok)
	require.Equal(t, "bob", who)
	_, ok = c.login("0123456789abcde")
	require.False(t, ok, "a prefix is not the token")
	_, ok = c.login("")
	require.False(t, ok)
}

func TestConfig_Validate_names_every_problem(t *testing.T) {
	err := Config{Addr: "nowhere", PageSize: 5000, TraceURL: "http://jaeger/trace"}.Validate()
	require.ErrorContains(t, err, `console address "nowhere" is not HOST:PORT`)
	require.ErrorContains(t, err, "console page size 5000")
	require.ErrorContains(t, err, "has no {trace_id}")
	require.NoError(t, DefaultConfig().Validate())
}

func TestTraceID_reads_a_W3C_traceparent(t *testing.T) {
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", traceID("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
	require.Empty(t, traceID("garbage"))
	require.Empty(t, traceID(""))
}

package integration_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The secret values a command carries — SQL arguments, Kafka payloads and headers, Consul values —
// are in its audit entry only as keyed HMACs (hmac-sha256:<hex>), withheld without a key; the
// clear value is nowhere in audit_entries, and omni audit hash computes the same HMAC to find it.
func TestAudit_secret_values_are_kept_as_keyed_HMACs(t *testing.T) {
	url, db := newControlDB(t)
	ctx := context.Background()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keyFile := filepath.Join(t.TempDir(), "audit-hmac.key")
	require.NoError(t, os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600))
	env := []string{"DATABASE_URL=" + url, "OMNI_AUDIT_HMAC_KEY_FILE=" + keyFile}
	send := func(env []string, args ...string) string {
		t.Helper()
		out, stderr, code := omni(t, env, append([]string{"cmd"}, args...)...)
		require.Equal(t, 0, code, stderr+out)
		return strings.TrimSpace(out)
	}
	secrets := map[string]string{"payload-s3cret-7f3a": "", "header-tok-9b1e": "", "consul-hunter2-c4d5": "", `"sql-arg-pw-e6f7"`: ""}
	published := send(env, "kafka", "publish", "--data", `{"target":"bus","topic":"orders","payload":"payload-s3cret-7f3a","headers":{"auth":"header-tok-9b1e"}}`)
	put := send(env, "consul", "kv-put", "--data", `{"target":"agent","key":"db/password","value":"consul-hunter2-c4d5"}`)
	executed := send(env, "postgres", "execute", "--data", `{"target":"control","sql":"UPDATE users SET pw = $1","args":["sql-arg-pw-e6f7"]}`)
	withheld := send([]string{"DATABASE_URL=" + url}, "consul", "kv-put", "--data", `{"target":"agent","key":"db/password","value":"consul-hunter2-c4d5"}`)

	detail := func(id string) map[string]string {
		var d map[string]string
		require.NoError(t, db.QueryRow(ctx, `SELECT detail FROM audit_entries WHERE action = 'command.sent' AND detail->>'command_id' = $1`, id).Scan(&d))
		return d
	}
	hash := func(value string) string {
		out, stderr, code := omni(t, []string{"OMNI_AUDIT_HMAC_KEY_FILE=" + keyFile}, "audit", "hash", value)
		require.Equal(t, 0, code, stderr+out)
		h := strings.TrimSpace(out)
		require.Regexp(t, `^hmac-sha256:[0-9a-f]{64}$`, h)
		return h
	}
	for v := range secrets {
		secrets[v] = hash(v)
	}
	d := detail(published)
	require.Equal(t, secrets["payload-s3cret-7f3a"], d["payload"])
	require.Equal(t, secrets["header-tok-9b1e"], d["header.auth"])
	require.Equal(t, secrets["consul-hunter2-c4d5"], detail(put)["value"])
	require.Equal(t, secrets[`"sql-arg-pw-e6f7"`], detail(executed)["arg.0"], "an SQL argument is hashed as its JSON")
	require.Equal(t, "withheld (no audit HMAC key)", detail(withheld)["value"])
	require.NotEqual(t, secrets["payload-s3cret-7f3a"], secrets["header-tok-9b1e"])

	for _, clear := range []string{"payload-s3cret-7f3a", "header-tok-9b1e", "consul-hunter2-c4d5", "sql-arg-pw-e6f7"} {
		var n int
		require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM audit_entries e WHERE e::text LIKE '%' || $1 || '%'`, clear).Scan(&n))
		require.Zero(t, n, "%s is in audit_entries in clear", clear)
	}
	out, _, code := omni(t, nil, "audit", "hash", "x")
	require.NotEqual(t, 0, code, "no key, no hash")
	_ = out
}

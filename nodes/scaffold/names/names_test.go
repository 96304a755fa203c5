package names_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/nodes/scaffold/names"
)

func TestParse_converts_every_spelling_to_every_form(t *testing.T) {
	cases := []struct {
		name, given                                    string
		snake, kebab, pascal, camel, pkg, title, topic string
	}{
		{"kebab_with_initialism", "http-endpoint", "http_endpoint", "http-endpoint", "HTTPEndpoint", "httpEndpoint", "httpendpoint", "HTTP endpoint", "infra.commands.http_endpoint"},
		{"pascal_with_initialism", "HTTPEndpoint", "http_endpoint", "http-endpoint", "HTTPEndpoint", "httpEndpoint", "httpendpoint", "HTTP endpoint", "infra.commands.http_endpoint"},
		{"camel_with_initialism", "httpEndpoint", "http_endpoint", "http-endpoint", "HTTPEndpoint", "httpEndpoint", "httpendpoint", "HTTP endpoint", "infra.commands.http_endpoint"},
		{"snake", "http_endpoint", "http_endpoint", "http-endpoint", "HTTPEndpoint", "httpEndpoint", "httpendpoint", "HTTP endpoint", "infra.commands.http_endpoint"},
		{"shouting_snake", "HTTP_ENDPOINT", "http_endpoint", "http-endpoint", "HTTPEndpoint", "httpEndpoint", "httpendpoint", "HTTP endpoint", "infra.commands.http_endpoint"},
		{"spaces", "health score", "health_score", "health-score", "HealthScore", "healthScore", "healthscore", "Health score", "infra.commands.health_score"},
		{"trailing_digit", "redis2", "redis2", "redis2", "Redis2", "redis2", "redis2", "Redis2", "infra.commands.redis2"},
		{"capital_and_digit", "S3Bucket", "s3_bucket", "s3-bucket", "S3Bucket", "s3Bucket", "s3bucket", "S3 bucket", "infra.commands.s3_bucket"},
		{"digit_inside_camel", "oauth2Client", "oauth2_client", "oauth2-client", "Oauth2Client", "oauth2Client", "oauth2client", "Oauth2 client", "infra.commands.oauth2_client"},
		{"initialism_then_digit", "HTTP2Server", "http2_server", "http2-server", "HTTP2Server", "http2Server", "http2server", "HTTP2 server", "infra.commands.http2_server"},
		{"id_first", "IDToken", "id_token", "id-token", "IDToken", "idToken", "idtoken", "ID token", "infra.commands.id_token"},
		{"id_last", "user_id", "user_id", "user-id", "UserID", "userID", "userid", "User ID", "infra.commands.user_id"},
		{"several_initialisms", "sql-tls-api-url", "sql_tls_api_url", "sql-tls-api-url", "SQLTLSAPIURL", "sqlTLSAPIURL", "sqltlsapiurl", "SQL TLS API URL", "infra.commands.sql_tls_api_url"},
		{"unknown_capitals_kept", "ABCClient", "abc_client", "abc-client", "ABCClient", "abcClient", "abcclient", "ABC client", "infra.commands.abc_client"},
		{"one_letter", "x", "x", "x", "X", "x", "x", "X", "infra.commands.x"},
		{"vault_kv", "vaultKV", "vault_kv", "vault-kv", "VaultKV", "vaultKV", "vaultkv", "Vault KV", "infra.commands.vault_kv"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := names.Parse(c.given)
			require.NoError(t, err)
			require.Equal(t, c.snake, n.Snake(), "snake_case")
			require.Equal(t, c.snake, n.File(), "file")
			require.Equal(t, c.kebab, n.Kebab(), "kebab-case")
			require.Equal(t, c.kebab, n.YAML(), "yaml")
			require.Equal(t, c.pascal, n.Pascal(), "PascalCase")
			require.Equal(t, c.camel, n.Camel(), "camelCase")
			require.Equal(t, c.pkg, n.Package(), "package")
			require.Equal(t, c.title, n.Title(), "title")
			require.Equal(t, c.topic, n.Topic("infra.commands."), "topic")
			require.Equal(t, c.given, n.Given())
		})
	}
}

func TestParse_every_spelling_of_one_name_is_the_same_name(t *testing.T) {
	want, err := names.Parse("http-endpoint")
	require.NoError(t, err)
	for _, form := range []func(names.Name) string{names.Name.Snake, names.Name.Kebab, names.Name.Pascal, names.Name.Camel} {
		n, err := names.Parse(form(want))
		require.NoError(t, err)
		require.Equal(t, want.Snake(), n.Snake(), "from %q", form(want))
		require.Equal(t, want.Pascal(), n.Pascal(), "from %q", form(want))
	}
}

func TestParse_refuses_what_is_not_a_name(t *testing.T) {
	cases := []struct{ name, given, says string }{
		{"empty", "", "the name is empty"},
		{"starts_with_digit", "2fa", "must start with a letter"},
		{"starts_with_separator", "-redis", "must start with a letter"},
		{"punctuation", "redis!", `"!" is not allowed`},
		{"dot", "http.endpoint", `"." is not allowed`},
		{"slash", "handlers/redis", `"/" is not allowed`},
		{"non_ascii", "café", `"é" is not allowed`},
		{"double_separator", "http--endpoint", "two separators in a row"},
		{"trailing_separator", "redis_", "ends with a separator"},
		{"keyword", "type", `"type" is a Go keyword`},
		{"keyword_in_other_case", "Func", `"func" is a Go keyword`},
		{"keyword_as_package", "go", `"go" is a Go keyword`},
		{"too_long", "a-very-long-name-that-goes-on-and-on-and-on-forever", "at most 40"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := names.Parse(c.given)
			require.ErrorIs(t, err, names.ErrInvalid)
			require.ErrorContains(t, err, c.says)
		})
	}
}

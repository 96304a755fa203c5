package scaffold_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/nodes/scaffold"
	"github.com/omninode/omnibase-infra/nodes/scaffold/names"
)

// registration are the module's files a scaffold changes besides the node's own.
var registration = []string{"go.mod", "README.md", "internal/app/nodes.go", "cmd/omni/nodeflags.go", "events/adapter.go",
	"tests/architecture/layers_test.go"}

// module copies the files a scaffold reads and changes into a temporary module root, with a
// package of its own (handlers/consul) that is not a node.
func module(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range append(registration, "handlers/consul/config.go") {
		b, err := os.ReadFile(filepath.Join("..", "..", f))
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, f), b, 0o644))
	}
	return root
}

func apply(t *testing.T, r scaffold.Request) scaffold.Plan {
	t.Helper()
	p, err := r.Plan()
	require.NoError(t, err)
	require.NoError(t, p.Apply(r.Root))
	return p
}

func read(t *testing.T, root, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, path))
	require.NoError(t, err)
	return string(b)
}

func TestPlan_writes_each_kinds_files_and_registers_the_node(t *testing.T) {
	cases := []struct {
		kind  scaffold.Kind
		name  string
		files []string
	}{
		{scaffold.Effect, "HTTPEndpoint", []string{"handlers/httpendpoint/node.yaml", "handlers/httpendpoint/config.go",
			"handlers/httpendpoint/driver.go", "handlers/httpendpoint/probe.go", "handlers/httpendpoint/driver_test.go",
			"tests/integration/node_http_endpoint_test.go"}},
		{scaffold.Compute, "health-score", []string{"compute/healthscore/node.yaml", "compute/healthscore/health_score.go",
			"compute/healthscore/health_score_test.go", "tests/integration/node_health_score_test.go"}},
		{scaffold.Reducer, "target_uptime", []string{"projections/targetuptime/node.yaml", "projections/targetuptime/reduce.go",
			"projections/targetuptime/reduce_test.go", "tests/integration/node_target_uptime_test.go"}},
		{scaffold.Orchestrator, "recheckUnhealthy", []string{"sagas/recheckunhealthy/node.yaml", "sagas/recheckunhealthy/contract.yaml", "sagas/recheckunhealthy/workflow.go",
			"sagas/recheckunhealthy/workflow_test.go", "tests/integration/node_recheck_unhealthy_test.go"}},
	}
	for _, c := range cases {
		t.Run(string(c.kind), func(t *testing.T) {
			root := module(t)
			p := apply(t, scaffold.Request{Root: root, Kind: c.kind, Name: c.name})
			var created []string
			for _, ch := range p.Changes {
				if ch.Action() == "create" {
					created = append(created, ch.Path)
				}
			}
			require.Equal(t, c.files, created)
			n, err := names.Parse(c.name)
			require.NoError(t, err)
			contract := read(t, root, c.files[0])
			require.Contains(t, contract, "name: "+n.Kebab()+"\n")
			require.Contains(t, contract, "kind: "+string(c.kind)+"\n")
			require.Contains(t, read(t, root, "internal/app/nodes.go"), `{Name: "`+n.Kebab()+`", Kind: "`+string(c.kind)+`"`)
			require.Contains(t, read(t, root, "tests/architecture/layers_test.go"), `"`+p.Dir+`",`)
			require.Contains(t, read(t, root, "README.md"), "## "+n.Title()+" node\n")
			adapters := read(t, root, "events/adapter.go")
			if c.kind == scaffold.Effect {
				require.Contains(t, adapters, `AdapterHTTPEndpoint = "http_endpoint"`)
				require.Contains(t, adapters, "\tAdapterHTTPEndpoint,\n")
				require.Contains(t, read(t, root, "cmd/omni/nodeflags.go"), `"http-endpoint-target"`)
				require.Contains(t, contract, "{flag: --http-endpoint-target, env: OMNI_HTTP_ENDPOINT_TARGET,")
			} else {
				require.NotContains(t, adapters, n.Pascal())
			}
		})
	}
}

func TestPlan_a_second_run_changes_nothing(t *testing.T) {
	root := module(t)
	for _, r := range []scaffold.Request{
		{Root: root, Kind: scaffold.Effect, Name: "redis2"},
		{Root: root, Kind: scaffold.Compute, Name: "S3Bucket"},
	} {
		apply(t, r)
	}
	before := map[string]string{}
	for _, f := range registration {
		before[f] = read(t, root, f)
	}
	for _, r := range []scaffold.Request{
		{Root: root, Kind: scaffold.Effect, Name: "redis2"},
		{Root: root, Kind: scaffold.Compute, Name: "s3-bucket"}, // the same name, spelt otherwise
	} {
		p, err := r.Plan()
		require.NoError(t, err)
		require.False(t, p.Changed(), "%s", p.Summary())
		require.NoError(t, p.Apply(root))
	}
	for _, f := range registration {
		require.Equal(t, before[f], read(t, root, f), f)
	}
}

func TestPlan_writes_nothing_and_diffs_what_it_would_change(t *testing.T) {
	root := module(t)
	before := read(t, root, "internal/app/nodes.go")
	p, err := scaffold.Request{Root: root, Kind: scaffold.Effect, Name: "vault-kv"}.Plan()
	require.NoError(t, err)
	require.Equal(t, before, read(t, root, "internal/app/nodes.go"))
	require.NoDirExists(t, filepath.Join(root, "handlers/vaultkv"))
	for _, c := range p.Changes {
		if c.Path != "internal/app/nodes.go" {
			continue
		}
		require.Equal(t, "modify", c.Action())
		diff := c.Diff()
		require.Contains(t, diff, "--- a/internal/app/nodes.go\n+++ b/internal/app/nodes.go\n")
		require.Contains(t, diff, "\n+\tvaultkvnode \"github.com/omninode/omnibase-infra/handlers/vaultkv\"\n")
		require.Contains(t, diff, "\n+\tVaultKV vaultkvnode.Config")
	}
}

func TestPlan_refuses(t *testing.T) {
	root := module(t)
	apply(t, scaffold.Request{Root: root, Kind: scaffold.Compute, Name: "health-score"})
	cases := []struct {
		name string
		req  scaffold.Request
		is   error
		says string
	}{
		{"a_keyword", scaffold.Request{Kind: scaffold.Effect, Name: "type"}, names.ErrInvalid, `"type" is a Go keyword`},
		{"a_leading_digit", scaffold.Request{Kind: scaffold.Effect, Name: "9lives"}, names.ErrInvalid, "must start with a letter"},
		{"punctuation", scaffold.Request{Kind: scaffold.Reducer, Name: "up/time"}, names.ErrInvalid, `"/" is not allowed`},
		{"a_package_the_code_imports", scaffold.Request{Kind: scaffold.Compute, Name: "events"}, names.ErrInvalid,
			`its package name "events" is one the generated code imports`},
		{"a_package_that_is_not_a_node", scaffold.Request{Kind: scaffold.Effect, Name: "consul"}, scaffold.ErrExists,
			"package handlers/consul exists and is not the effect node consul"},
		{"a_node_of_that_name_elsewhere", scaffold.Request{Kind: scaffold.Reducer, Name: "HealthScore"}, scaffold.ErrExists,
			"a node named health-score exists in compute/healthscore"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.req.Root = root
			_, err := c.req.Plan()
			require.ErrorIs(t, err, c.is)
			require.ErrorContains(t, err, c.says)
		})
	}
	t.Run("an_unknown_kind", func(t *testing.T) {
		_, err := scaffold.Request{Root: root, Kind: "projector", Name: "x"}.Plan()
		require.ErrorContains(t, err, `unknown node kind "projector": want effect, compute, reducer or orchestrator`)
	})
}

func TestPlan_never_overwrites_a_file_without_force(t *testing.T) {
	root := module(t)
	apply(t, scaffold.Request{Root: root, Kind: scaffold.Effect, Name: "http-endpoint"})
	probe := filepath.Join(root, "handlers/httpendpoint/probe.go")
	mine := "package httpendpoint\n\n// my own probe\n"
	require.NoError(t, os.WriteFile(probe, []byte(mine), 0o644))

	_, err := scaffold.Request{Root: root, Kind: scaffold.Effect, Name: "http-endpoint"}.Plan()
	require.ErrorIs(t, err, scaffold.ErrExists)
	require.ErrorContains(t, err, "handlers/httpendpoint/probe.go exists with other contents: give --force to overwrite it")
	require.Equal(t, mine, read(t, root, "handlers/httpendpoint/probe.go"))

	p := apply(t, scaffold.Request{Root: root, Kind: scaffold.Effect, Name: "http-endpoint", Force: true})
	require.Contains(t, p.Summary(), "modify    handlers/httpendpoint/probe.go\n")
	require.Contains(t, p.Summary(), "unchanged handlers/httpendpoint/driver.go\n")
	require.Contains(t, read(t, root, "handlers/httpendpoint/probe.go"), "func probe(")
}

func TestPlan_names_a_marker_that_is_gone(t *testing.T) {
	root := module(t)
	nodes := filepath.Join(root, "internal/app/nodes.go")
	src := read(t, root, "internal/app/nodes.go")
	require.NoError(t, os.WriteFile(nodes, []byte(strings.Replace(src, "// omni:scaffold:nodes", "", 1)), 0o644))
	_, err := scaffold.Request{Root: root, Kind: scaffold.Compute, Name: "health-score"}.Plan()
	require.ErrorContains(t, err, `internal/app/nodes.go has no line "// omni:scaffold:nodes", where the scaffold inserts the node: put it back`)
}

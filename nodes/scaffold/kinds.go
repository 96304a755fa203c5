package scaffold

import "fmt"

// Kind is one of the four kinds of node.
type Kind string

// The kinds of node.
const (
	// Effect nodes touch an outside system: an effect.Driver the adapter runner runs.
	Effect Kind = "effect"
	// Compute nodes are pure transformations.
	Compute Kind = "compute"
	// Reducer nodes fold events into a state, as the projection does.
	Reducer Kind = "reducer"
	// Orchestrator nodes are workflows the saga engine runs.
	Orchestrator Kind = "orchestrator"
)

// Kinds are the kinds omni scaffold knows, in the order its help lists them.
var Kinds = []Kind{Effect, Compute, Reducer, Orchestrator}

// ParseKind reads a kind, refusing one it does not know.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown node kind %q: want effect, compute, reducer or orchestrator", s)
}

// file is one file a kind writes: the template it comes from (under templates/) and its path,
// itself a template over the node's names, relative to the module root.
type file struct {
	template string
	path     string
}

// spec is what a kind writes.
type spec struct {
	// parent is the directory the node's package goes under.
	parent  string
	article string
	files   []file
	// readme is the body of the node's README section, after its first paragraph.
	readme string
}

var specs = map[Kind]spec{
	Effect: {parent: "handlers", article: "an", files: []file{
		{"effect/node.yaml.tmpl", "{{.Dir}}/node.yaml"},
		{"effect/config.go.tmpl", "{{.Dir}}/config.go"},
		{"effect/driver.go.tmpl", "{{.Dir}}/driver.go"},
		{"effect/probe.go.tmpl", "{{.Dir}}/probe.go"},
		{"effect/driver_test.go.tmpl", "{{.Dir}}/driver_test.go"},
		{"effect/integration_test.go.tmpl", "tests/integration/node_{{.File}}_test.go"},
	}, readme: `
It is an adapter: ` + "`handlers/effect`" + ` runs its driver (probe schedule, breaker, retries,
leases, outcomes through the outbox) when it has targets: ` + "`--{{.Name}}-target NAME=ADDR`" + `
(repeatable; or ` + "`{{.Env}}`" + `), which fills ` + "`app.Config.Nodes.{{.Pascal}}`" + `. Its
events carry the adapter name ` + "`{{.Snake}}`" + ` (adapter ids ` + "`{{.Snake}}/<target>`" + `), its
commands come on ` + "`{{.Topic}}`" + `: the runner's own, for now, with these payloads:

| command | payload |
|---|---|
| ` + "`probe_target`" + ` | ` + "`" + `{"adapter":"{{.Snake}}","target":"main"}` + "`" + ` |
| ` + "`open_breaker`" + ` | ` + "`" + `{"adapter":"{{.Snake}}","target":"main","reason":"maintenance"}` + "`" + ` |
| ` + "`close_breaker`" + ` | ` + "`" + `{"adapter":"{{.Snake}}","target":"main","reason":"maintenance over"}` + "`" + ` |
| ` + "`recover_target`" + ` | ` + "`" + `{"adapter":"{{.Snake}}","target":"main"}` + "`" + ` |

Write its probe in ` + "`{{.Dir}}/probe.go`" + `, then run its tests:

` + "```sh" + `
go test ./{{.Dir}}/
go test -count=1 -run 'Test{{.Pascal}}Node' ./tests/integration/
` + "```" + `
`},
	Compute: {parent: "compute", article: "a", files: []file{
		{"compute/node.yaml.tmpl", "{{.Dir}}/node.yaml"},
		{"compute/compute.go.tmpl", "{{.Dir}}/{{.File}}.go"},
		{"compute/compute_test.go.tmpl", "{{.Dir}}/{{.File}}_test.go"},
		{"compute/integration_test.go.tmpl", "tests/integration/node_{{.File}}_test.go"},
	}, readme: `
It is a pure function (` + "`{{.Package}}.Compute`" + `, of type ` + "`{{.Package}}.Func`" + `): it scores the
health of the targets the projection knows.

` + "```sh" + `
go test ./{{.Dir}}/
go test -count=1 -run 'Test{{.Pascal}}Node' ./tests/integration/
` + "```" + `
`},
	Reducer: {parent: "projections", article: "a", files: []file{
		{"reducer/node.yaml.tmpl", "{{.Dir}}/node.yaml"},
		{"reducer/reduce.go.tmpl", "{{.Dir}}/reduce.go"},
		{"reducer/reduce_test.go.tmpl", "{{.Dir}}/reduce_test.go"},
		{"reducer/integration_test.go.tmpl", "tests/integration/node_{{.File}}_test.go"},
	}, readme: `
It is a pure fold (` + "`{{.Package}}.Reduce`" + `) of the adapters' health reports into the health last
seen of each target.

` + "```sh" + `
go test ./{{.Dir}}/
go test -count=1 -run 'Test{{.Pascal}}Node' ./tests/integration/
` + "```" + `
`},
	Orchestrator: {parent: "sagas", article: "an", files: []file{
		{"orchestrator/node.yaml.tmpl", "{{.Dir}}/node.yaml"},
		{"orchestrator/contract.yaml.tmpl", "{{.Dir}}/contract.yaml"},
		{"orchestrator/workflow.go.tmpl", "{{.Dir}}/workflow.go"},
		{"orchestrator/workflow_test.go.tmpl", "{{.Dir}}/workflow_test.go"},
		{"orchestrator/integration_test.go.tmpl", "tests/integration/node_{{.File}}_test.go"},
	}, readme: `
It is a workflow (` + "`{{.Package}}.Workflow()`" + `, a ` + "`sagas.Definition`" + `) that probes again every
target the projection does not show healthy. Its steps' order and timeouts are in
` + "`{{.Dir}}/contract.yaml`" + `, which ` + "`omni contract validate`" + ` checks against the workflow
(` + "`app.Workflows()`" + `). The engine runs the workflows of ` + "`sagas.Workflows()`" + ` only: to run
it there, the engine must be given it (not wired yet).

` + "```sh" + `
go test ./{{.Dir}}/
go test -count=1 -run 'Test{{.Pascal}}Node' ./tests/integration/
` + "```" + `
`},
}

// edit is a line the scaffold inserts into an existing file, before a marker comment.
type edit struct {
	path, marker string
	// line is a template over the node's names; kinds limits it to those kinds (all when empty).
	line  string
	kinds []Kind
	// key, a template too, is what shows the line is there already, for a line gofmt may
	// rewrap; without it, the line itself (spaces aside) does.
	key string
}

// Markers, each on a line of its own in the file it names.
const (
	markerImports      = "// omni:scaffold:imports"
	markerConfig       = "// omni:scaffold:config"
	markerNodes        = "// omni:scaffold:nodes"
	markerAdapters     = "// omni:scaffold:adapters"
	markerAdapterNames = "// omni:scaffold:adapter-names"
	markerLayers       = "// omni:scaffold:layers"
	markerFlags        = "// omni:scaffold:flags"
	// MarkerReadme is where README.md takes the scaffolded nodes' sections.
	MarkerReadme = "<!-- omni:scaffold:readme -->"
)

var edits = []edit{
	{path: "internal/app/nodes.go", marker: markerImports, kinds: []Kind{Effect, Orchestrator},
		line: `{{.Package}}node "{{.Module}}/{{.Dir}}"`},
	{path: "internal/app/nodes.go", marker: markerConfig, kinds: []Kind{Effect},
		line: `{{.Pascal}} {{.Package}}node.Config // the {{.Title}} node ({{.Dir}})`},
	{path: "internal/app/nodes.go", marker: markerNodes, kinds: []Kind{Effect}, key: `{Name: "{{.Name}}",`,
		line: `{Name: "{{.Name}}", Kind: "effect", Package: "{{.Dir}}", Driver: func(c NodesConfig, l *slog.Logger) (effect.Driver, error) { return {{.Package}}node.Build(c.{{.Pascal}}, l) }},`},
	{path: "internal/app/nodes.go", marker: markerNodes, kinds: []Kind{Compute, Reducer}, key: `{Name: "{{.Name}}",`,
		line: `{Name: "{{.Name}}", Kind: "{{.Kind}}", Package: "{{.Dir}}"},`},
	{path: "internal/app/nodes.go", marker: markerNodes, kinds: []Kind{Orchestrator}, key: `{Name: "{{.Name}}",`,
		line: `{Name: "{{.Name}}", Kind: "orchestrator", Package: "{{.Dir}}", Workflows: map[string]sagas.Workflow{ {{- .Package}}node.Name: {{.Package}}node.Workflow()}},`},
	{path: "cmd/omni/nodeflags.go", marker: markerImports, kinds: []Kind{Effect},
		line: `{{.Package}}node "{{.Module}}/{{.Dir}}"`},
	{path: "cmd/omni/nodeflags.go", marker: markerFlags, kinds: []Kind{Effect}, key: `"{{.Name}}-target"`,
		line: `f.Var(newTargetsFlag(&c.{{.Pascal}}.Targets, {{.Package}}node.ParseTarget), "{{.Name}}-target", "{{.Title}} target, NAME=ADDR (repeatable; the node runs when it has one)")`},
	{path: "events/adapter.go", marker: markerAdapters, kinds: []Kind{Effect},
		line: `Adapter{{.Pascal}} = "{{.Snake}}" // the {{.Title}} node ({{.Dir}})`},
	{path: "events/adapter.go", marker: markerAdapterNames, kinds: []Kind{Effect},
		line: `Adapter{{.Pascal}},`},
	{path: "tests/architecture/layers_test.go", marker: markerLayers,
		line: `"{{.Dir}}",`},
}

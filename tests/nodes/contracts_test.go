// Package nodes_test holds the nodes' contracts (node.yaml) against the code and grades the
// nodes with omni readiness, in the tree and in copies of it broken one thing at a time. Pure
// Go: nothing here needs a container.
package nodes_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/consul"
	"github.com/omninode/omnibase-infra/handlers/effect"
	"github.com/omninode/omnibase-infra/handlers/kafka"
	"github.com/omninode/omnibase-infra/handlers/postgres"
	"github.com/omninode/omnibase-infra/nodes/contract"
	"github.com/omninode/omnibase-infra/nodes/readiness"
	"github.com/omninode/omnibase-infra/sagas"
)

// root is the module checkout the tests run in.
const root = "../.."

// drivers are the effect nodes' drivers by package: what the adapters register at run time.
var drivers = map[string]effect.Driver{
	"handlers/postgres": &postgres.Driver{},
	"handlers/kafka":    &kafka.Driver{},
	"handlers/consul":   &consul.Driver{},
}

func loadAll(t *testing.T, dir string) []*contract.Contract {
	t.Helper()
	paths, err := contract.Discover(dir)
	require.NoError(t, err)
	cs, problems := contract.LoadAll(dir, paths)
	require.Empty(t, problems)
	return cs
}

func TestContracts_every_node_has_one_and_they_validate(t *testing.T) {
	cs := loadAll(t, root)
	var pkgs []string
	for _, c := range cs {
		pkgs = append(pkgs, c.Package+" "+string(c.Kind))
		require.Empty(t, c.CheckTree(root), c.File)
		if c.Workflows != "" {
			_, err := sagas.LoadContract(c.WorkflowsPath(root))
			require.NoError(t, err, "the workflows of %s", c.Name)
		}
	}
	require.Equal(t, []string{"handlers/consul effect", "handlers/kafka effect", "handlers/postgres effect",
		"projections/infrastate reducer", "sagas orchestrator"}, pkgs,
		"the three adapters, the projection and the sagas have a contract; there is no compute node (the pure folds and decisions are the reducer's and the orchestrator's cores)")
	require.Empty(t, contract.ValidateSet(cs))
}

// drift is every way c says something other than the code: what the source reads, builds and
// accepts (readiness.MatchCode, go/parser) and what the process registers at run time (the
// drivers' commands, the catalog, the topics the composition root wires them to).
func drift(t *testing.T, dir string, c *contract.Contract) []string {
	t.Helper()
	cat, err := readiness.ScanCatalog(dir)
	require.NoError(t, err)
	var out []string
	for _, f := range readiness.MatchCode(dir, c, cat) {
		if f.Outcome == readiness.Fail {
			out = append(out, f.Location+": "+f.Message)
		}
	}
	return append(out, runtimeDrift(c)...)
}

func kinds[T events.Message](ms []T) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Kind().String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func refs(ms []contract.MessageRef) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// streams maps each topic of ss to its messages.
func streams(ss []contract.Stream) map[string][]string {
	out := map[string][]string{}
	for _, s := range ss {
		out[s.Topic] = refs(s.Messages)
	}
	return out
}

func runtimeDrift(c *contract.Contract) []string {
	var out []string
	diff := func(what string, want, got any) {
		if fmt.Sprint(want) != fmt.Sprint(got) {
			out = append(out, fmt.Sprintf("%s: %s: the code has %v, the contract %v", c.File, what, want, got))
		}
	}
	topics := events.DefaultTopics()
	registered := map[string]bool{}
	for _, k := range events.Catalog().Kinds() {
		registered[k.String()] = true
	}
	for _, s := range append(slices.Clone(c.Consumes), c.Produces...) {
		for _, m := range s.Messages {
			if !registered[m.String()] {
				out = append(out, fmt.Sprintf("%s: %s on %s is not in events.Catalog()", c.File, m, s.Topic))
			}
		}
	}
	var commands []contract.MessageRef
	for _, cmd := range c.Commands {
		commands = append(commands, cmd.Ref())
	}
	switch c.Kind {
	case contract.Effect:
		d, ok := drivers[c.Package]
		if !ok {
			return append(out, c.File+": no driver known for "+c.Package)
		}
		accepts := kinds(effect.Accepts(d))
		diff("commands (effect.Accepts)", accepts, refs(commands))
		diff("consumes", map[string][]string{topics.Commands(d.Adapter()): accepts}, streams(c.Consumes))
		diff("produces on", []string{topics.Events}, mapsKeys(streams(c.Produces)))
	case contract.Reducer:
		diff("consumes from", []string{topics.Events}, mapsKeys(streams(c.Consumes)))
		diff("produces on", []string{topics.Intents}, mapsKeys(streams(c.Produces)))
	case contract.Orchestrator:
		wc, err := sagas.LoadContract(filepath.Join(root, c.Package, c.Workflows))
		if err != nil {
			return append(out, err.Error())
		}
		var routed []string
		for intent := range wc.Routes {
			for _, k := range events.Catalog().Kinds() {
				if k.Name == intent {
					routed = append(routed, k.String())
				}
			}
		}
		slices.Sort(routed)
		diff("consumes on the intents topic (the routes)", routed, streams(c.Consumes)[topics.Intents])
		diff("consumes from", sorted(topics.Intents, topics.Events), mapsKeys(streams(c.Consumes)))
		// The sagas send the control commands to every adapter, and report on the events topic.
		want := []string{topics.Events}
		for _, a := range []string{events.AdapterPostgres, events.AdapterKafka, events.AdapterConsul} {
			want = append(want, topics.Commands(a))
			diff("produces on "+topics.Commands(a), kinds([]events.Command{events.ProbeTarget{}, events.OpenBreaker{},
				events.CloseBreaker{}, events.RecoverTarget{}, events.InitializeTarget{}}), streams(c.Produces)[topics.Commands(a)])
		}
		diff("produces on", sorted(want...), mapsKeys(streams(c.Produces)))
	}
	return out
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

func mapsKeys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return sorted(out...)
}

func TestContracts_match_the_code(t *testing.T) {
	for _, c := range loadAll(t, root) {
		t.Run(c.Name, func(t *testing.T) {
			require.Empty(t, drift(t, root, c))
		})
	}
}

// A contract that says one thing more or less than the code fails, naming the place.
func TestContracts_a_drifted_contract_fails(t *testing.T) {
	original, err := os.ReadFile(filepath.Join(root, "handlers/postgres/node.yaml"))
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		old, new string
		want     []string
	}{
		"a_command_dropped": {
			old: "  - {type: postgres_transaction, version: 1, description: \"statements in one transaction, all or none\",\n" +
				"     example: \"omni cmd postgres transaction --target orders --wait\"}\n",
			new: "",
			want: []string{"handlers/postgres/adapter.go:72: the code accepts command postgres_transaction/v1, which the contract does not list",
				"commands (effect.Accepts): the code has [close_breaker/v1"},
		},
		"an_event_it_does_not_emit": {
			old:  "      - {type: connection_pool_stats_reported, version: 1}\n",
			new:  "      - {type: connection_pool_stats_reported, version: 1}\n      - {type: consul_kv_changed, version: 1}\n",
			want: []string{"handlers/postgres/node.yaml:29: produces consul_kv_changed/v1 on infra.events, but the code builds no such message"},
		},
		"an_event_it_emits_left_out": {
			old:  "      - {type: connection_pool_stats_reported, version: 1}\n",
			new:  "",
			want: []string{"handlers/postgres/probe.go:", "the code emits connection_pool_stats_reported/v1, which the contract does not produce"},
		},
		"the_wrong_topic": {
			old:  "  - topic: infra.commands.postgres\n",
			new:  "  - topic: infra.commands.pg\n",
			want: []string{"consumes: the code has map[infra.commands.postgres:"},
		},
		"a_flag_bound_nowhere": {
			old:  "  - {flag: --postgres-max-conns,",
			new:  "  - {flag: --postgres-max-connections,",
			want: []string{"handlers/postgres/node.yaml:51: flag --postgres-max-connections is bound nowhere"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			text := strings.Replace(string(original), tc.old, tc.new, 1)
			require.NotEqual(t, string(original), text, "the edit applies")
			c, err := contract.Parse("handlers/postgres/node.yaml", []byte(text))
			require.NoError(t, err)
			got := strings.Join(drift(t, root, c), "\n")
			for _, w := range tc.want {
				require.Contains(t, got, w)
			}
		})
	}
}

// Code that changes under its contract fails too: a copy of the tree whose projection raises one
// more intent.
func TestContracts_drifted_code_fails(t *testing.T) {
	dir := copyModule(t)
	edit(t, dir, "projections/infrastate/reduce.go",
		"\tvar out []events.IntentMessage\n",
		"\tvar out []events.IntentMessage\n\tout = append(out, events.NewIntent[events.InitializationRequested](\"x\", \"y\", \"z\", env.OccurredAt))\n")
	var projection *contract.Contract
	for _, c := range loadAll(t, dir) {
		if c.Name == "infrastate-projection" {
			projection = c
		}
	}
	require.NotNil(t, projection)
	got := strings.Join(drift(t, dir, projection), "\n")
	require.Contains(t, got, "projections/infrastate/reduce.go:243: the code emits initialization_requested/v1, which the contract does not produce")
}

package nodes_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/nodes/readiness"
)

// benchFixture is bench-results.json of the last `make bench` the README reports (2026-12-02).
const benchFixture = "testdata/bench-results.json"

// now is the day the expectations were recorded: every exemption of the contracts still counts.
var now = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func assess(t *testing.T, dir, bench string) map[string]readiness.Report {
	t.Helper()
	abs, err := filepath.Abs(bench)
	require.NoError(t, err)
	reports, err := readiness.Assess(readiness.Config{Root: dir, BenchResults: abs, Now: now, Commit: "the-tree-under-test"})
	require.NoError(t, err)
	out := map[string]readiness.Report{}
	for _, r := range reports {
		out[r.Node] = r
	}
	return out
}

type levels struct {
	level                                                                  readiness.Level
	contract, security, performance, documentation, testing, observability readiness.Level
}

func levelsOf(r readiness.Report) levels {
	m := r.Levels()
	return levels{r.Level, m["contract"], m["security"], m["performance"], m["documentation"], m["testing"], m["observability"]}
}

const (
	N = readiness.NotReady
	D = readiness.Development
	S = readiness.Staging
	P = readiness.Production
)

// The project's own nodes, graded against the figures of the last bench run. Why each:
//   - security is PRODUCTION for all: their connections take platform/tlspolicy (the adapters'
//     packages or platform/bus, internal/app for the others); the adapters' commands are
//     rate-limited (handlers/effect imports platform/ratelimit);
//   - observability is PRODUCTION for all: each logs with its correlation ids, names metrics
//     that are registered (the fleet's, the command outcomes, the saga step durations) and makes
//     trace spans (platform/telemetry);
//   - documentation is PRODUCTION for all: each has its README section, an example of every
//     command, and a doc comment on every exported name;
//   - performance: the sagas miss their end-to-end p99 target (147 ms against 50 ms); the others
//     meet theirs, and every figure is exempt from being fresh (make bench runs on demand).
func TestReadiness_the_projects_nodes_get_the_levels_their_state_deserves(t *testing.T) {
	got := map[string]levels{}
	for name, r := range assess(t, root, benchFixture) {
		got[name] = levelsOf(r)
	}
	require.Equal(t, map[string]levels{
		"postgres-adapter":      {P, P, P, P, P, P, P},
		"kafka-adapter":         {P, P, P, P, P, P, P},
		"consul-adapter":        {P, P, P, P, P, P, P},
		"infrastate-projection": {P, P, P, P, P, P, P},
		"saga-orchestrator":     {S, P, P, S, P, P, P},
	}, got)
}

// Breaking one thing at a time in a copy of the tree lowers exactly the dimension it should, for
// exactly the node broken, with a finding naming the place and the remedy.
func TestReadiness_breaking_one_thing_lowers_exactly_its_dimension(t *testing.T) {
	baseline := assess(t, root, benchFixture)
	for name, tc := range map[string]struct {
		node      string
		dimension string
		level     readiness.Level
		rule      string
		location  string
		message   string
		break_    func(t *testing.T, dir string) (bench string)
	}{
		"delete_its_tests": {
			node: "postgres-adapter", dimension: "testing", level: N, rule: "testing.unit_tests", location: "handlers/postgres/node.yaml:7", message: "package handlers/postgres has no tests",
			break_: func(t *testing.T, dir string) string {
				tests, err := filepath.Glob(filepath.Join(dir, "handlers/postgres/*_test.go"))
				require.NoError(t, err)
				require.NotEmpty(t, tests)
				for _, f := range tests {
					require.NoError(t, os.Remove(f))
				}
				return benchFixture
			},
		},
		"drop_a_readme_section": {
			node: "kafka-adapter", dimension: "documentation", level: D, rule: "documentation.readme_section", location: "handlers/kafka/node.yaml:69", message: `README.md has no section "### Kafka adapter"`,
			break_: func(t *testing.T, dir string) string {
				edit(t, dir, "README.md", "### Kafka adapter\n", "")
				return benchFixture
			},
		},
		"turn_off_tls": {
			node: "consul-adapter", dimension: "security", level: D, rule: "security.tls_verified", location: "handlers/consul/config.go:", message: "InsecureSkipVerify: true",
			break_: func(t *testing.T, dir string) string {
				edit(t, dir, "handlers/consul/config.go", "\nfunc ", "\nvar insecure = &tls.Config{InsecureSkipVerify: true}\n\nfunc ")
				return benchFixture
			},
		},
		"remove_a_benchmark_figure": {
			node: "infrastate-projection", dimension: "performance", level: D, rule: "performance.figures_exist", location: "projections/infrastate/node.yaml:40", message: "has no figure replay_over_projection_x",
			break_: func(t *testing.T, dir string) string {
				data, err := os.ReadFile(benchFixture)
				require.NoError(t, err)
				var kept []string
				for _, l := range strings.Split(string(data), "\n") {
					if !strings.Contains(l, `"replay_over_projection_x"`) {
						kept = append(kept, l)
					}
				}
				path := filepath.Join(dir, "bench-results.json")
				require.NoError(t, os.WriteFile(path, []byte(strings.Join(kept, "\n")), 0o644))
				return path
			},
		},
		"a_password_in_plain_configuration": {
			node: "postgres-adapter", dimension: "security", level: N, rule: "security.no_plain_secrets", location: "handlers/postgres/node.yaml:50",
			message: "flag --postgres-password takes a secret in plain configuration",
			break_: func(t *testing.T, dir string) string {
				edit(t, dir, "handlers/postgres/node.yaml", "configuration:\n",
					"configuration:\n  - {flag: --postgres-password, env: OMNI_POSTGRES_PASSWORD, description: \"the targets' password\"}\n")
				edit(t, dir, "cmd/omni/run.go", "\nfunc ", "\nconst postgresPasswordFlag = \"postgres-password\"\n\nfunc ")
				return benchFixture
			},
		},
		"let_an_exemption_expire": {
			node: "postgres-adapter", dimension: "performance", level: S, rule: "performance.figures_fresh", location: "handlers/postgres/node.yaml:71", message: "exemption expired on 2026-12-01",
			break_: func(t *testing.T, dir string) string {
				edit(t, dir, "handlers/postgres/node.yaml", "expires: 2027-03-01", "expires: 2026-12-01")
				return benchFixture
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := copyModule(t)
			got := assess(t, dir, tc.break_(t, dir))
			for node, before := range baseline {
				after := got[node]
				if node != tc.node {
					require.Equal(t, levelsOf(before), levelsOf(after), "%s is not what was broken", node)
					continue
				}
				want := before.Levels()
				require.Less(t, tc.level, want[tc.dimension], "the baseline is above the level the break leaves")
				want[tc.dimension] = tc.level
				require.Equal(t, want, after.Levels(), "only %s drops", tc.dimension)
				require.Equal(t, min(before.Level, tc.level), after.Level)

				var found []readiness.Finding
				for _, f := range after.Failing() {
					if f.Rule == tc.rule {
						found = append(found, f)
					}
				}
				require.NotEmpty(t, found, "a failing finding of %s", tc.rule)
				f := found[len(found)-1]
				require.True(t, strings.HasPrefix(f.Location, tc.location), "%s names the place: %s", tc.rule, f.Location)
				require.NotEmpty(t, f.Remediation, "and the remedy")
				require.Contains(t, f.Message, tc.message)
			}
		})
	}
}

// The README's table of rules is the one omni readiness applies: every rule, at its level.
func TestReadiness_the_readme_lists_every_rule_at_its_level(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(data), "\n## Nodes: contracts and readiness\n")
	require.True(t, ok, "the README has the section")
	section, _, _ = strings.Cut(section, "\n## ")
	var inReadme []string
	for _, l := range strings.Split(section, "\n") {
		cells := strings.Split(l, "|")
		if len(cells) == 5 && strings.HasPrefix(strings.TrimSpace(cells[1]), "`") && strings.Contains(cells[1], ".") {
			inReadme = append(inReadme, strings.Trim(strings.TrimSpace(cells[1]), "`")+" "+strings.TrimSpace(cells[2]))
		}
	}
	var rules []string
	for _, r := range readiness.Rules() {
		rules = append(rules, r.ID+" "+r.Level.String())
	}
	require.Equal(t, rules, inReadme)
}

// A package with no contract is NOT_READY, and the finding says where the contract belongs.
func TestReadiness_a_package_without_a_contract_is_not_ready(t *testing.T) {
	reports, err := readiness.Assess(readiness.Config{Root: root, Now: now, Commit: "x"}, "handlers/effect")
	require.NoError(t, err)
	require.Len(t, reports, 1)
	r := reports[0]
	require.Equal(t, readiness.NotReady, r.Level)
	f := r.Dimension("contract").Rules[0].Findings[0]
	require.Equal(t, readiness.Finding{Rule: "contract.exists", Outcome: readiness.Fail, Location: "handlers/effect/node.yaml:1",
		Message:     "package handlers/effect has no node.yaml",
		Remediation: "write handlers/effect/node.yaml to the schema of nodes/contract (omni scaffold writes one for a new node)"}, f)
}

// With a coverage profile, testing.coverage counts the statements of the node's package only.
func TestReadiness_coverage_is_read_from_the_profile(t *testing.T) {
	profile := func(covered int) string {
		path := filepath.Join(t.TempDir(), "cover.out")
		lines := []string{"mode: set"}
		for i := range 10 {
			count := 0
			if i < covered {
				count = 1
			}
			lines = append(lines, "github.com/omninode/omnibase-infra/projections/infrastate/reduce.go:"+
				strconv.Itoa(i+1)+".1,"+strconv.Itoa(i+1)+".9 1 "+strconv.Itoa(count))
		}
		// Another package's statements do not count.
		lines = append(lines, "github.com/omninode/omnibase-infra/projections/infrastate/sub/x.go:1.1,1.9 100 0")
		require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
		return path
	}
	rule := func(cover string) readiness.RuleResult {
		reports, err := readiness.Assess(readiness.Config{Root: root, Now: now, Commit: "x", CoverProfile: cover}, "infrastate-projection")
		require.NoError(t, err)
		for _, rr := range reports[0].Dimension("testing").Rules {
			if rr.Rule == "testing.coverage" {
				return rr
			}
		}
		t.Fatal("no testing.coverage")
		return readiness.RuleResult{}
	}
	require.Equal(t, readiness.Skip, rule("").Outcome, "skipped without a profile")
	require.Equal(t, readiness.Pass, rule(profile(7)).Outcome)
	low := rule(profile(5))
	require.Equal(t, readiness.Fail, low.Outcome)
	require.Contains(t, low.Findings[0].Message, "projections/infrastate: 50.0% of statements covered, below 60%")
}

// The probes for what other parts add look for import paths: the Kafka adapter's security is
// PRODUCTION because platform/bus configures its clients with platform/tlspolicy (and falls
// back to STAGING without it); the projection's observability is PRODUCTION because
// platform/consumer makes its batches' spans with platform/telemetry.
func TestReadiness_probes_pass_once_the_packages_they_look_for_are_used(t *testing.T) {
	dir := copyModule(t)
	edit(t, dir, "platform/bus/security.go", "\t\"github.com/omninode/omnibase-infra/platform/tlspolicy\"\n", "\t\"github.com/omninode/omnibase-infra/platform/nopolicy\"\n")
	before, after := assess(t, root, benchFixture), assess(t, dir, benchFixture)

	require.Equal(t, readiness.Production, before["kafka-adapter"].Dimension("security").Level,
		"the adapter's clients are platform/bus's, which take the policy")
	require.Equal(t, readiness.Staging, after["kafka-adapter"].Dimension("security").Level,
		"without the policy in platform/bus")
	require.Equal(t, readiness.Production, before["infrastate-projection"].Dimension("observability").Level,
		"its batches run through platform/consumer, which makes the spans")
}

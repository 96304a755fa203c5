package contract_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/omninode/omnibase-infra/nodes/contract"
)

const good = `name: redis-adapter
kind: effect
version: 1.0.0
description: Talks to Redis.
package: handlers/redis
consumes:
  - topic: infra.commands.redis
    messages: [{type: redis_get, version: 1}]
produces:
  - topic: infra.events
    messages: [{type: command_succeeded, version: 1}]
commands:
  - {type: redis_get, version: 1, description: "read a key", example: "omni cmd redis get"}
dependencies:
  systems: [postgresql]
configuration:
  - {flag: --redis-target, env: OMNI_REDIS_TARGET, description: "NAME=URL of a target"}
health:
  probe: probe_target
metrics: [omni_redis_commands_total]
performance:
  - {figure: redis_get_per_s, min: 100}
readme: "### Redis adapter"
exemptions:
  - {rule: performance.figures_fresh, reason: "nightly", expires: 2027-03-01}
`

func TestParse_a_good_contract_validates_and_knows_its_lines(t *testing.T) {
	c, err := contract.Parse("node.yaml", []byte(good))
	require.NoError(t, err)
	require.Empty(t, c.Validate())
	require.Equal(t, "redis-adapter", c.Name)
	require.Equal(t, contract.Effect, c.Kind)
	require.Equal(t, "redis_get/v1", c.Commands[0].Ref().String())
	require.Equal(t, 13, c.Line("commands", 0))
	require.Equal(t, "node.yaml:17", c.Where("configuration", 0, "env"))
	require.Equal(t, 17, c.Line("configuration", 7), "a path not written answers its nearest parent's line")
	require.True(t, c.Performance[0].Meets(100))
	require.False(t, c.Performance[0].Meets(99.5))
	require.Equal(t, "redis_get_per_s >= 100", c.Performance[0].String())
}

// Every problem is reported, each with its file and line.
func TestValidate_names_every_problem_with_its_line(t *testing.T) {
	for name, tc := range map[string]struct {
		old, new string
		want     []string
	}{
		"not_kebab_case":     {"name: redis-adapter", "name: Redis_Adapter", []string{`node.yaml:1: name "Redis_Adapter" is not kebab-case`}},
		"unknown_kind":       {"kind: effect", "kind: sideeffect", []string{`node.yaml:2: kind "sideeffect" is none of effect, compute, reducer, orchestrator`}},
		"not_semver":         {"version: 1.0.0", "version: v1", []string{`node.yaml:3: version "v1" is not a semantic version`}},
		"unknown_key":        {"readme:", "colour: blue\nreadme:", []string{`node.yaml:23: unknown key "colour" in the contract`}},
		"missing_required":   {"description: Talks to Redis.\n", "", []string{"node.yaml:1: description is required"}},
		"package_escapes":    {"package: handlers/redis", "package: ../elsewhere", []string{`node.yaml:5: package "../elsewhere" must be a clean directory`}},
		"wrong_env":          {"env: OMNI_REDIS_TARGET", "env: REDIS_TARGET", []string{`node.yaml:17: flag --redis-target is read from OMNI_REDIS_TARGET, not "REDIS_TARGET"`}},
		"not_a_flag":         {"flag: --redis-target", "flag: redis-target", []string{`node.yaml:17: flag "redis-target" is not a long flag`}},
		"command_unconsumed": {"messages: [{type: redis_get, version: 1}]", "messages: [{type: redis_set, version: 1}]", []string{"node.yaml:13: command redis_get/v1 is consumed from no topic"}},
		"version_zero":       {"{type: command_succeeded, version: 1}", "{type: command_succeeded, version: 0}", []string{`node.yaml:11: message "command_succeeded" needs a version of 1 or more`}},
		"unknown_system":     {"systems: [postgresql]", "systems: [redis]", []string{`node.yaml:15: system "redis" is none of postgresql, kafka, consul, vault`}},
		"compute_with_a_system": {"kind: effect", "kind: compute", []string{
			"node.yaml:13: only effect nodes accept commands; this node is compute",
			"node.yaml:15: a compute node is a pure transformation: it depends on no system"}},
		"no_bound":               {"min: 100", "unit: x", []string{`node.yaml:22: unknown key "unit" in performance.0`, "node.yaml:22: target redis_get_per_s gives neither min nor max"}},
		"min_above_max":          {"min: 100", "min: 100, max: 10", []string{"node.yaml:22: target redis_get_per_s has min 100 above max 10"}},
		"bad_rule":               {"rule: performance.figures_fresh", "rule: speed.figures_fresh", []string{`node.yaml:25: rule "speed.figures_fresh" is of no dimension`}},
		"bad_expiry":             {"expires: 2027-03-01", "expires: 2027-13-01", []string{`node.yaml:25: exemption from performance.figures_fresh: expiry "2027-13-01" is not a date`}},
		"no_reason":              {`reason: "nightly"`, `reason: ""`, []string{"node.yaml:25: exemption from performance.figures_fresh needs a reason"}},
		"readme_heading":         {`readme: "### Redis adapter"`, `readme: "Redis adapter"`, []string{`node.yaml:23: readme "Redis adapter" must be a README heading`}},
		"not_a_list":             {"metrics: [omni_redis_commands_total]", "metrics: omni_redis_commands_total", []string{"node.yaml:20: metrics must be a list"}},
		"bad_metric":             {"metrics: [omni_redis_commands_total]", "metrics: [omni-redis]", []string{`node.yaml:20: metrics[0] "omni-redis" is not a Prometheus metric name`}},
		"workflows_on_an_effect": {"readme:", "workflows: contract.yaml\nreadme:", []string{"node.yaml:23: workflows is for orchestrators only; this node is effect"}},
	} {
		t.Run(name, func(t *testing.T) {
			text := strings.Replace(good, tc.old, tc.new, 1)
			require.NotEqual(t, good, text)
			c, err := contract.Parse("node.yaml", []byte(text))
			var problems []string
			if err != nil {
				var ps contract.Problems
				require.ErrorAs(t, err, &ps)
				for _, p := range ps {
					problems = append(problems, p.Error())
				}
			}
			if c != nil {
				for _, p := range c.Validate() {
					problems = append(problems, p.Error())
				}
			}
			got := strings.Join(problems, "\n")
			for _, w := range tc.want {
				require.Contains(t, got, w)
			}
		})
	}
}

func TestParse_yaml_that_is_not_a_contract_names_its_line(t *testing.T) {
	_, err := contract.Parse("node.yaml", []byte("name: a\nkind: [effect\n"))
	require.ErrorContains(t, err, "node.yaml:1: did not find expected")
	_, err = contract.Parse("node.yaml", []byte("- a\n- b\n"))
	require.EqualError(t, err, "node.yaml:1: a contract is a mapping of name, kind, version, …")
}

func TestValidateSet_names_are_unique_and_dependencies_known(t *testing.T) {
	a, err := contract.Parse("a/node.yaml", []byte(good))
	require.NoError(t, err)
	b, err := contract.Parse("b/node.yaml", []byte(strings.Replace(good, "dependencies:\n", "dependencies:\n  nodes: [nobody]\n", 1)))
	require.NoError(t, err)
	got := contract.ValidateSet([]*contract.Contract{a, b}).Error()
	require.Contains(t, got, `b/node.yaml:1: name "redis-adapter" is taken by a/node.yaml:1`)
	require.Contains(t, got, `b/node.yaml:15: depends on node "nobody", which has no contract`)
}

func TestExemption_counts_through_its_expiry_day(t *testing.T) {
	e := contract.Exemption{Rule: "performance.figures_fresh", Reason: "nightly", Expires: "2027-03-01"}
	require.True(t, e.Active(time.Date(2027, 3, 1, 23, 59, 0, 0, time.UTC)))
	require.False(t, e.Active(time.Date(2027, 3, 2, 0, 0, 0, 0, time.UTC)))
	require.False(t, contract.Exemption{Expires: "soon"}.Active(time.Now()), "an expiry that is no date never counts")
}

func TestEnvFor_is_the_variable_cmd_omni_reads(t *testing.T) {
	require.Equal(t, "OMNI_POSTGRES_MAX_RESULT_BYTES", contract.EnvFor("--postgres-max-result-bytes"))
}

// A contract built in Go (as omni scaffold may) marshals to YAML that parses back the same.
func TestContract_marshals_to_yaml_that_parses_back(t *testing.T) {
	c, err := contract.Parse("node.yaml", []byte(good))
	require.NoError(t, err)
	out, err := yaml.Marshal(c)
	require.NoError(t, err)
	back, err := contract.Parse("node.yaml", out)
	require.NoError(t, err, string(out))
	require.Empty(t, back.Validate())
	c.File, back.File = "", ""
	require.Equal(t, fmt.Sprintf("%+v", stripLines(*c)), fmt.Sprintf("%+v", stripLines(*back)))
}

func stripLines(c contract.Contract) contract.Contract {
	return contract.Contract{Name: c.Name, Kind: c.Kind, Version: c.Version, Description: c.Description, Package: c.Package,
		Workflows: c.Workflows, Consumes: c.Consumes, Produces: c.Produces, Commands: c.Commands, Dependencies: c.Dependencies,
		Configuration: c.Configuration, Health: c.Health, Metrics: c.Metrics, Performance: c.Performance, Readme: c.Readme,
		Exemptions: c.Exemptions}
}

// The schema's own example (the one omni scaffold writes to) is a valid contract.
func TestLoad_the_schema_example_validates(t *testing.T) {
	c, err := contract.Load("testdata/schema-example.yaml")
	require.NoError(t, err)
	require.Empty(t, c.Validate())
	require.Equal(t, "## PostgreSQL adapter", c.Readme)
	require.Equal(t, "performance.figures_fresh", c.Exemptions[0].Rule)
}

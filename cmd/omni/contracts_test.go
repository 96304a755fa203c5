package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestContractValidate_checks_every_node_of_the_checkout_and_the_workflows(t *testing.T) {
	_, out, err := execute(t, "contract", "validate", "--root", "../..")
	require.NoError(t, err)
	for _, want := range []string{
		"handlers/postgres/node.yaml is valid: postgres-adapter (effect 1.0.0), 8 commands",
		"handlers/kafka/node.yaml is valid", "handlers/consul/node.yaml is valid",
		"projections/infrastate/node.yaml is valid: infrastate-projection (reducer 1.0.0)",
		"sagas/node.yaml is valid: saga-orchestrator (orchestrator 1.0.0)",
		"sagas/contract.yaml is valid: 3 workflows, 7 routes",
	} {
		require.Contains(t, out, want)
	}
}

func TestContractValidate_names_each_problem_by_file_and_line_and_exits_1(t *testing.T) {
	data, err := os.ReadFile("../../handlers/postgres/node.yaml")
	require.NoError(t, err)
	bad := strings.Replace(string(data), "kind: effect", "kind: effector", 1)
	bad = strings.Replace(bad, "env: OMNI_POSTGRES_MAX_CONNS", "env: POSTGRES_MAX_CONNS", 1)
	path := filepath.Join(t.TempDir(), "node.yaml")
	require.NoError(t, os.WriteFile(path, []byte(bad), 0o644))
	_, _, err = execute(t, "contract", "validate", path)
	require.Error(t, err)
	require.Equal(t, exitFailed, exitCode(err))
	require.Contains(t, err.Error(), path+`:4: kind "effector" is none of effect, compute, reducer, orchestrator`)
	require.Contains(t, err.Error(), path+`:51: flag --postgres-max-conns is read from OMNI_POSTGRES_MAX_CONNS, not "POSTGRES_MAX_CONNS"`)

	orchestrator, err := os.ReadFile("../../sagas/node.yaml")
	require.NoError(t, err)
	alone := filepath.Join(t.TempDir(), "node.yaml")
	require.NoError(t, os.WriteFile(alone, orchestrator, 0o644))
	_, _, err = execute(t, "contract", "validate", alone)
	require.ErrorContains(t, err, alone+":9: workflows contract.yaml: could not read contract", "an orchestrator's workflows are beside it")

	_, out, err := execute(t, "contract", "validate", "../../sagas/contract.yaml", "../../handlers/kafka/node.yaml", "../../sagas/node.yaml")
	require.NoError(t, err, "a workflow contract and a node contract, each read as what it is")
	require.Contains(t, out, "../../sagas/contract.yaml is valid: 3 workflows, 7 routes")
	require.Contains(t, out, "../../handlers/kafka/node.yaml is valid: kafka-adapter")
}

func TestContractValidate_outside_a_checkout_is_a_usage_error(t *testing.T) {
	t.Chdir(t.TempDir())
	_, _, err := execute(t, "contract", "validate")
	require.Equal(t, exitUsage, exitCode(err))
	require.ErrorContains(t, err, "not inside a checkout of github.com/omninode/omnibase-infra")
}

func TestReadiness_prints_each_nodes_level_and_fails_below_the_floor(t *testing.T) {
	_, out, err := execute(t, "readiness", "--root", "../..", "--json", "postgres-adapter", "sagas")
	require.NoError(t, err)
	var reports []struct {
		Node       string `json:"node"`
		Level      string `json:"level"`
		Dimensions []struct {
			Dimension string `json:"dimension"`
			Level     string `json:"level"`
		} `json:"dimensions"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &reports), out)
	require.Len(t, reports, 2)
	require.Equal(t, "postgres-adapter", reports[0].Node)
	require.Equal(t, "saga-orchestrator", reports[1].Node, "a node named by its package")
	require.Len(t, reports[0].Dimensions, 6)

	_, out, err = execute(t, "readiness", "--root", "../..", "--fail-below", "production")
	require.Equal(t, exitFailed, exitCode(err))
	require.ErrorContains(t, err, "below PRODUCTION: consul-adapter is ")
	require.Contains(t, out, "NODE")
	require.Contains(t, out, "OBSERVABILITY")
	require.Regexp(t, `(?m)^  fail   \S+:\d+ [a-z_]+\.[a-z_]+: `, out, "the findings that hold a node back, below the table")

	_, _, err = execute(t, "readiness", "--root", "../..", "--fail-below", "excellent")
	require.Equal(t, exitUsage, exitCode(err))
	_, _, err = execute(t, "readiness", "--root", "../..", "redis-adapter")
	require.Equal(t, exitUsage, exitCode(err))
	require.ErrorContains(t, err, `unknown node "redis-adapter"`)
}

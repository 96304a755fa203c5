// Package scaffold_test scaffolds every kind of node, for a corpus of awkward names, into a copy
// of the module and holds the result to what a user would check: gofmt, go vet, go build ./...
// and the generated unit tests pass; a second run and a --dry-run leave the tree byte for byte
// as it was; and an effect node, its probe filled in, passes its generated integration test
// against a real container.
package scaffold_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// corpus is what the test scaffolds: each kind, with names that test the conversions.
var corpus = []struct{ kind, name, dir string }{
	{"effect", "HTTPEndpoint", "handlers/httpendpoint"},
	{"effect", "redis2", "handlers/redis2"},
	{"effect", "S3Bucket", "handlers/s3bucket"},
	{"compute", "health-score", "compute/healthscore"},
	{"compute", "oauth2Client", "compute/oauth2client"},
	{"compute", "userID", "compute/userid"},
	{"reducer", "TTL_tracker", "projections/ttltracker"},
	{"reducer", "x", "projections/x"},
	{"orchestrator", "recheckUnhealthy", "sagas/recheckunhealthy"},
	{"orchestrator", "sql tls api url", "sagas/sqltlsapiurl"},
}

// httpProbe is the few lines of real driver code the test gives the HTTP endpoint node: GET the
// target's URL, healthy on 200.
const httpProbe = `package httpendpoint

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

func probe(ctx context.Context, t Target) (map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.Addr, nil)
	if err != nil {
		return nil, fmt.Errorf("could not make the request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("could not GET %s: %w", t.Addr, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return map[string]string{"status": resp.Status}, fmt.Errorf("GET %s: %s", t.Addr, resp.Status)
	}
	return map[string]string{"status": resp.Status}, nil
}
`

func TestScaffold_every_kind_in_a_copy_of_the_module(t *testing.T) {
	src, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	tmp := t.TempDir()
	mod := filepath.Join(tmp, "module")
	require.NoError(t, copyTree(src, mod))
	omni := filepath.Join(tmp, "omni")
	run(t, src, "go", "build", "-o", omni, "./cmd/omni")
	scaffold := func(t *testing.T, args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(omni, append([]string{"scaffold", "--dir", mod}, args...)...)
		cmd.Dir = tmp // outside the module: --dir says where
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	pristine := hashTree(t, mod)

	t.Run("dry_run_writes_nothing_and_shows_the_diff", func(t *testing.T) {
		for _, c := range corpus {
			out, err := scaffold(t, c.kind, c.name, "--dry-run")
			require.NoError(t, err, out)
			require.Contains(t, out, "would write the "+c.kind+" node")
			require.Contains(t, out, "create     "+c.dir+"/node.yaml")
			require.Contains(t, out, "--- a/internal/app/nodes.go\n+++ b/internal/app/nodes.go\n")
			require.Contains(t, out, "--- a/README.md\n+++ b/README.md\n")
		}
		require.Equal(t, pristine, hashTree(t, mod), "--dry-run changed the tree")
	})

	t.Run("every_kind_is_written", func(t *testing.T) {
		for _, c := range corpus {
			out, err := scaffold(t, c.kind, c.name)
			require.NoError(t, err, out)
			require.Contains(t, out, "wrote the "+c.kind+" node")
		}
	})

	var pkgs []string
	for _, c := range corpus {
		pkgs = append(pkgs, "./"+c.dir+"/")
	}
	t.Run("gofmt_vet_build_and_the_generated_unit_tests_pass", func(t *testing.T) {
		require.Empty(t, run(t, mod, "gofmt", "-l", "."), "gofmt would change these")
		run(t, mod, "go", "build", "./...")
		run(t, mod, "go", append([]string{"vet"}, append(slices.Clone(pkgs), "./internal/app/", "./events/", "./tests/integration/", "./tests/architecture/")...)...)
		run(t, mod, "go", append([]string{"test", "-count=1"}, append(slices.Clone(pkgs), "./tests/architecture/")...)...)
	})

	t.Run("every_contract_validates_beside_the_projects_own", func(t *testing.T) {
		// The omni of the copy: it knows the scaffolded orchestrators' workflows.
		copied := filepath.Join(tmp, "omni-copy")
		run(t, mod, "go", "build", "-o", copied, "./cmd/omni")
		out := run(t, mod, copied, "contract", "validate")
		for _, c := range corpus {
			require.Contains(t, out, c.dir+"/node.yaml is valid: ")
		}
		require.Contains(t, out, "sagas/recheckunhealthy/contract.yaml is valid: 1 workflows")
		help := run(t, mod, copied, "run", "--help")
		require.Contains(t, help, "--http-endpoint-target stringArray")
		require.Contains(t, help, "--s3-bucket-target stringArray")

		// A node as generated holds its contract against its code: readiness grades the
		// contract dimension of every one PRODUCTION (an effect node that is no Initializer
		// does not take initialize_target, whatever the runner's code names).
		var report []struct {
			ContractFile string `json:"contract_file"`
			Dimensions   []struct {
				Dimension string `json:"dimension"`
				Level     string `json:"level"`
			} `json:"dimensions"`
		}
		readiness := run(t, mod, copied, "readiness", "--json")
		require.NoError(t, json.Unmarshal([]byte(readiness), &report))
		graded := map[string]string{}
		for _, r := range report {
			for _, d := range r.Dimensions {
				if d.Dimension == "contract" {
					graded[r.ContractFile] = d.Level
				}
			}
		}
		for _, c := range corpus {
			require.Equal(t, "PRODUCTION", graded[c.dir+"/node.yaml"], "the contract dimension of %s as generated", c.dir)
		}
	})

	t.Run("a_second_run_and_a_dry_run_change_nothing", func(t *testing.T) {
		written := hashTree(t, mod)
		for _, c := range corpus {
			out, err := scaffold(t, c.kind, c.name)
			require.NoError(t, err, out)
			require.Contains(t, out, "nothing to change for the "+c.kind+" node")
			require.NotContains(t, out, "create")
			require.NotContains(t, out, "modify")
			out, err = scaffold(t, c.kind, c.name, "--dry-run")
			require.NoError(t, err, out)
		}
		require.Equal(t, written, hashTree(t, mod), "a second run changed the tree")
	})

	t.Run("refusals_name_the_problem_and_exit_2", func(t *testing.T) {
		before := hashTree(t, mod)
		for _, c := range []struct{ kind, name, says string }{
			{"effect", "func", `"func" is a Go keyword`},
			{"compute", "2fast", "must start with a letter"},
			{"reducer", "up.time", `"." is not allowed`},
			{"effect", "kafka", "package handlers/kafka exists and is not the effect node kafka"},
			{"reducer", "health_score", "a node named health-score exists in compute/healthscore"},
			{"widget", "x", `unknown node kind "widget"`},
		} {
			out, err := scaffold(t, c.kind, c.name)
			var exit *exec.ExitError
			require.True(t, errors.As(err, &exit), "%s %s: %v\n%s", c.kind, c.name, err, out)
			require.Equal(t, 2, exit.ExitCode(), out)
			require.Contains(t, out, c.says)
		}
		require.Equal(t, before, hashTree(t, mod), "a refused scaffold changed the tree")
	})

	t.Run("an_effect_node_filled_in_and_every_other_kind_pass_their_integration_tests", func(t *testing.T) {
		probe := filepath.Join(mod, "handlers/httpendpoint/probe.go")
		require.NoError(t, os.WriteFile(probe, []byte(httpProbe), 0o644))
		out, err := scaffold(t, "effect", "HTTPEndpoint")
		require.Error(t, err, "a file the user wrote is not overwritten without --force")
		require.Contains(t, out, "handlers/httpendpoint/probe.go exists with other contents: give --force to overwrite it")
		run(t, mod, "go", "test", "-count=1", "./handlers/httpendpoint/")
		// One run of the integration package for every kind: the other kinds pass theirs as
		// generated.
		out = run(t, mod, "go", "test", "-count=1", "-timeout", "10m", "-v",
			"-run", "^Test(HTTPEndpoint|HealthScore|TTLTracker|RecheckUnhealthy)Node_", "./tests/integration/")
		for _, name := range []string{"HTTPEndpointNode_runs_in_omni_and_its_targets_are_probed",
			"HealthScoreNode_scores_what_a_running_omni_projects", "TTLTrackerNode_folds_what_the_event_log_holds",
			"RecheckUnhealthyNode_decides_from_a_running_omnis_projection"} {
			require.Contains(t, out, "--- PASS: Test"+name)
		}
	})
}

// run runs name in dir and fails the test with its output if it fails; it returns its output.
func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TESTCONTAINERS_RYUK_DISABLED=true")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s in %s:\n%s", name, strings.Join(args, " "), dir, out)
	return string(out)
}

// copyTree copies the module at src to dst: its regular files, not .git nor bin.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if e.IsDir() {
			if rel == ".git" || rel == "bin" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !e.Type().IsRegular() || rel == ".git" { // a worktree's .git is a file
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		info, err := in.Stat()
		if err != nil {
			return err
		}
		out, err := os.OpenFile(filepath.Join(dst, rel), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// hashTree is a hash of every file under root: its path, mode and contents.
func hashTree(t *testing.T, root string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		info, err := e.Info()
		if err != nil {
			return err
		}
		_, _ = io.WriteString(h, rel+"\x00"+info.Mode().String()+"\x00")
		if e.Type().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			_, _ = h.Write(b)
		}
		_, _ = h.Write([]byte{0})
		return nil
	})
	require.NoError(t, err)
	return hex.EncodeToString(h.Sum(nil))
}

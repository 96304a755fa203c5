package integration_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/tests/containers"
)

// devLoop is an `omni dev` on embedded defaults (no Consul), as `make run` starts it, and the
// environment its banner says another shell needs.
type devLoop struct {
	cmd     *exec.Cmd
	lines   chan string
	printed []string
	stderr  *lockedBuffer
	env     []string
	addr    string
}

// startDev runs omni dev with args and waits until it has printed its banner.
func startDev(t *testing.T, ctx context.Context, args ...string) *devLoop {
	t.Helper()
	port, err := containers.FreePort()
	require.NoError(t, err)
	d := &devLoop{lines: make(chan string, 200), stderr: &lockedBuffer{}, addr: fmt.Sprintf("127.0.0.1:%d", port)}
	d.cmd = exec.CommandContext(ctx, omniBinary(t), append([]string{"dev", "--http-addr", d.addr, "--console-addr", "127.0.0.1:0", "--probe-interval", "300ms"}, args...)...)
	// Without the suite's key, as a new user runs it: dev makes its own and exports where it is.
	d.cmd.Env = append(cleanEnv(), "OMNI_SEAL_KEK=")
	stdout, err := d.cmd.StdoutPipe()
	require.NoError(t, err)
	d.cmd.Stderr = d.stderr
	require.NoError(t, d.cmd.Start())
	t.Cleanup(func() { _ = d.cmd.Process.Kill() })
	go func() {
		defer close(d.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			d.lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	export := d.waitLine(t, "the export line of the banner", func(l string) bool { return strings.Contains(l, "export DATABASE_URL=") })
	// export DATABASE_URL='…' KAFKA_BROKERS='…' OMNI_SEAL_KEK_FILE='…'
	for _, m := range regexp.MustCompile(`([A-Z_]+)='([^']*)'`).FindAllStringSubmatch(export, -1) {
		d.env = append(d.env, m[1]+"="+m[2])
	}
	require.Len(t, d.env, 3, "the banner exports DATABASE_URL, KAFKA_BROKERS and OMNI_SEAL_KEK_FILE: %s", export)
	d.env = append(d.env, "OMNI_SEAL_KEK=") // what the banner exports is all the next commands hold
	return d
}

func (d *devLoop) waitLine(t *testing.T, what string, match func(string) bool) string {
	t.Helper()
	timeout := time.After(90 * time.Second)
	for {
		select {
		case l, ok := <-d.lines:
			require.True(t, ok, "omni dev exited before printing %s; printed:\n%s\nstderr:\n%s", what, strings.Join(d.printed, "\n"), d.stderr.String())
			d.printed = append(d.printed, l)
			if match(l) {
				return l
			}
		case <-timeout:
			t.Fatalf("omni dev did not print %s within 90s; printed:\n%s\nstderr:\n%s", what, strings.Join(d.printed, "\n"), d.stderr.String())
		}
	}
}

// stop sends SIGINT and returns the rest of what dev printed.
func (d *devLoop) stop(t *testing.T) string {
	t.Helper()
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGINT))
	var rest []string
	for l := range d.lines {
		rest = append(rest, l)
	}
	require.NoError(t, d.cmd.Wait(), "omni dev exits cleanly on SIGINT; stderr:\n%s", d.stderr.String())
	return strings.Join(rest, "\n")
}

// TestCLI_first_steps_after_make_run walks what a new user does after `make run` on embedded
// defaults, each step a friction of issue 18 that once stumbled, against the real binary.
func TestCLI_first_steps_after_make_run(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// A second database to probe, as the README's "Watch a fault" does (nothing listens there).
	d := startDev(t, ctx, "--postgres-target", "orders=postgres://postgres@127.0.0.1:1/orders?connect_timeout=1")
	d.waitLine(t, "the README's next command in the banner", func(l string) bool { return strings.Contains(l, "cmd postgres probe --target control --wait") })
	d.waitLine(t, "the control database healthy", func(l string) bool { return strings.Contains(l, "postgres/control") && strings.Contains(l, "healthy") })
	d.waitLine(t, "orders, the second database, probed", func(l string) bool { return strings.Contains(l, "postgres/orders") })

	t.Run("a_second_dev_on_a_taken_port_starts_nothing", func(t *testing.T) {
		out, stderr, code := omni(t, nil, "dev", "--http-addr", d.addr)
		require.Equal(t, 2, code, stderr)
		require.Contains(t, stderr, "--http-addr "+d.addr)
		require.NotContains(t, out, "started, throwaway", "it refuses before starting PostgreSQL")
	})

	t.Run("the_banners_next_command_works_with_what_it_exported", func(t *testing.T) {
		out, stderr, code := omni(t, d.env, "cmd", "postgres", "probe", "--target", "control", "--wait")
		require.Equal(t, 0, code, stderr)
		require.Contains(t, out, "command_succeeded")
	})

	t.Run("state_keeps_control_beside_the_second_database_in_every_format", func(t *testing.T) {
		out, stderr, code := omni(t, d.env, "state", "-o", "json")
		require.Equal(t, 0, code, stderr)
		var doc struct {
			Targets []struct {
				AdapterID    string    `json:"adapter_id"`
				LastProbedAt time.Time `json:"last_probed_at"`
			} `json:"targets"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &doc), out)
		var ids []string
		for _, s := range doc.Targets {
			ids = append(ids, s.AdapterID)
		}
		require.Subset(t, ids, []string{"postgres/control", "postgres/orders", "kafka/bus"})

		out, _, code = omni(t, d.env, "state", "-o", "yaml")
		require.Equal(t, 0, code)
		require.Contains(t, out, "adapter_id: postgres/control", "YAML has the JSON's field names")
		out, _, code = omni(t, d.env, "state", "-o", "jsonl")
		require.Equal(t, 0, code)
		require.Len(t, strings.Split(strings.TrimSpace(out), "\n"), len(ids), "one line per target")
		out, _, code = omni(t, d.env, "state", "-o", "wide")
		require.Equal(t, 0, code)
		require.Contains(t, out, "OWNER")
		require.Regexp(t, `\(\d+s ago\)|\(now\)`, out, "tables show times local and relative")
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "postgres/orders") {
				require.NotContains(t, l, "\t", "pgx's multi-line error stays on its row")
			}
		}
		_, stderr, code = omni(t, d.env, "state", "-o", "xml")
		require.Equal(t, 2, code, stderr)
	})

	t.Run("a_filter_that_matches_nothing_says_so_and_fails", func(t *testing.T) {
		out, stderr, code := omni(t, d.env, "state", "--target", "nope")
		require.Equal(t, 1, code, out)
		require.Contains(t, stderr, "no target matches --target nope")
		require.Contains(t, stderr, "postgres/control")
	})

	t.Run("a_target_typo_is_refused_before_it_is_sent", func(t *testing.T) {
		_, stderr, code := omni(t, d.env, "cmd", "postgres", "probe", "--target", "contol", "--wait")
		require.Equal(t, 2, code, stderr)
		require.Contains(t, stderr, `the postgres adapter has no target "contol"`)
		require.Contains(t, stderr, "control")
		out, _, code := omni(t, d.env, "events", "tail", "--type", "command_rejected", "-o", "jsonl")
		require.Equal(t, 0, code)
		require.Empty(t, strings.TrimSpace(out), "nothing was sent, so nothing was rejected")
	})

	t.Run("a_command_sent_without_wait_can_be_looked_up", func(t *testing.T) {
		out, stderr, code := omni(t, d.env, "cmd", "postgres", "probe", "--target", "control")
		require.Equal(t, 0, code, stderr)
		id := strings.TrimSpace(out)
		require.Contains(t, stderr, "omni cmd status "+id)
		eventually(t, 30*time.Second, "the command's outcome", func() (bool, string, error) {
			out, stderr, code := omni(t, d.env, "cmd", "status", id[:13], "-o", "json")
			var st struct {
				ID      string `json:"id"`
				Outcome string `json:"outcome"`
				Events  []struct {
					Type string `json:"type"`
				} `json:"events"`
			}
			if err := json.Unmarshal([]byte(out), &st); err != nil {
				return false, out + stderr, nil
			}
			return code == 0 && st.ID == id && st.Outcome == "succeeded" && len(st.Events) >= 2, out, nil
		})
		out, _, code = omni(t, d.env, "cmd", "status", id)
		require.Equal(t, 0, code)
		require.Contains(t, out, "succeeded")
		_, stderr, code = omni(t, d.env, "cmd", "status", "00000000-0000")
		require.Equal(t, 1, code)
		require.Contains(t, stderr, "no command with this id")

		out, _, code = omni(t, d.env, "events", "tail", "--type", "command_succeeded", "-o", "jsonl", "--limit", "100")
		require.Equal(t, 0, code)
		require.Contains(t, out, `"causation_id":"`+id+`"`, "events tail shows the outcome, by its causation id")
	})

	t.Run("events_tail_follow_prints_events_as_they_are_logged", func(t *testing.T) {
		fctx, fcancel := context.WithTimeout(ctx, 20*time.Second)
		defer fcancel()
		cmd := exec.CommandContext(fctx, omniBinary(t), "events", "tail", "--follow", "--limit", "1", "--target", "postgres/control", "-o", "json")
		cmd.Env = append(cleanEnv(), d.env...)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		sc := bufio.NewScanner(stdout)
		var got []string
		for len(got) < 3 && sc.Scan() { // the newest, then the probes that follow (every 300ms)
			got = append(got, sc.Text())
		}
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
		require.Len(t, got, 3)
		for _, l := range got {
			var e struct {
				Key string `json:"key"`
			}
			require.NoError(t, json.Unmarshal([]byte(l), &e), "with --follow, -o json is one object per line: %s", l)
			require.Equal(t, "postgres/control", e.Key)
		}
	})

	t.Run("a_second_verify_does_not_resume_and_draws_no_carriage_returns", func(t *testing.T) {
		for range 2 {
			out, stderr, code := omni(t, d.env, "replay", "--verify")
			require.NotContains(t, out, "interruption", "nothing was interrupted")
			require.NotContains(t, stderr, "resuming")
			require.NotContains(t, stderr, "\r", "standard error is not a terminal")
			require.Contains(t, []int{0, 1}, code, stderr)
		}
	})

	t.Run("the_readmes_runnable_commands_run_verbatim", func(t *testing.T) {
		commands := runnableReadmeCommands(t)
		require.NotEmpty(t, commands, "the README marks its quick start <!-- runnable -->")
		for _, line := range commands {
			args := strings.Fields(line)
			require.Equal(t, "./bin/omni", args[0], "a runnable line runs omni as the banner says: %s", line)
			out, stderr, code := omni(t, d.env, args[1:]...)
			require.Equal(t, 0, code, "%s\nstdout:\n%s\nstderr:\n%s", line, out, stderr)
		}
	})

	t.Run("metrics_say_which_build_runs", func(t *testing.T) {
		resp, err := http.Get("http://" + d.addr + "/metrics")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Regexp(t, `omni_build_info\{go_version="go[^"]+",revision="[^"]*",version="[^"]+"\} 1`, string(body))
	})

	rest := d.stop(t)
	require.Contains(t, rest, "stopped; removed the throwaway PostgreSQL and its data and the in-process broker")
	logs := d.stderr.String()
	require.NotContains(t, logs, "level=ERROR", "a clean stop logs no error")
	require.NotContains(t, logs, `msg="Adding handler"`, "Watermill's chatter is at debug")
	require.NotContains(t, logs, "CREATE TABLE")
}

// TestCLI_initialization_completes_on_the_default_dev starts the initialization workflow on
// omni dev as make run starts it — no Consul — where it once always failed at init_consul.
func TestCLI_initialization_completes_on_the_default_dev(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := startDev(t, ctx)
	healthy := map[string]bool{}
	d.waitLine(t, "the control database and the bus healthy", func(l string) bool {
		for _, id := range []string{"postgres/control", "kafka/bus"} {
			if strings.Contains(l, id) && strings.Contains(l, "healthy") {
				healthy[id] = true
			}
		}
		return len(healthy) == 2
	})
	_, stderr, code := omni(t, d.env, "sagas", "start", "initialization")
	require.Equal(t, 0, code, stderr)
	var id string
	eventually(t, 60*time.Second, "the initialization completed", func() (bool, string, error) {
		out, _, _ := omni(t, d.env, "sagas", "list", "--workflow", "initialization", "-o", "json")
		var list []struct {
			ID, Status, Failure string
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) == 0 {
			return false, out, nil
		}
		id = list[0].ID
		return list[0].Status == "completed", out, nil
	})
	out, stderr, code := omni(t, d.env, "sagas", "show", id[:8])
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "saga "+id)
	require.Contains(t, out, "no consul targets configured")
	d.stop(t)
}

func TestCLI_usage_errors_unreachable_systems_and_secrets(t *testing.T) {
	t.Run("a_typo_of_a_command_keeps_cobras_suggestion_and_exits_2", func(t *testing.T) {
		_, stderr, code := omni(t, nil, "stat")
		require.Equal(t, 2, code)
		require.Contains(t, stderr, "Did you mean this?\n\tstate\n", "cobra's lines as it wrote them")
		require.NotContains(t, stderr, "; ;")
	})
	t.Run("an_unknown_flag_exits_2", func(t *testing.T) {
		_, _, code := omni(t, nil, "state", "--colour")
		require.Equal(t, 2, code)
	})
	t.Run("an_unreachable_database_exits_3_on_one_line", func(t *testing.T) {
		_, stderr, code := omni(t, []string{"DATABASE_URL=postgres://u@127.0.0.1:1/db?connect_timeout=2"}, "sagas", "list")
		require.Equal(t, 3, code, stderr)
		require.Len(t, strings.Split(strings.TrimSpace(stderr), "\n"), 1, stderr)
		require.Contains(t, stderr, "could not reach DATABASE_URL")
	})
	t.Run("help_never_shows_the_database_password", func(t *testing.T) {
		for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"dev", "--help"}, {"state", "--help"}} {
			out, _, code := omni(t, []string{"DATABASE_URL=postgres://u:hunter2@127.0.0.1:1/db"}, args...)
			require.Equal(t, 0, code)
			require.NotContains(t, out, "hunter2")
		}
	})
	t.Run("dev_prints_a_given_database_url_without_its_password", func(t *testing.T) {
		// A given database that cannot be reached: dev prints its banner, then stops.
		cfg := writeFile(t, "database-url: postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=1\n")
		out, stderr, code := omni(t, nil, "dev", "--config", cfg, "--http-addr", "127.0.0.1:0", "--console-addr", "127.0.0.1:0")
		require.NotEqual(t, 0, code)
		require.NotContains(t, out+stderr, "hunter2")
		require.Contains(t, out, "postgres://u:***@127.0.0.1:1/db")
	})
	t.Run("version", func(t *testing.T) {
		out, stderr, code := omni(t, nil, "version", "-o", "json")
		require.Equal(t, 0, code, stderr)
		var v struct {
			Version   string `json:"version"`
			GoVersion string `json:"go_version"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &v))
		require.NotEmpty(t, v.Version)
		require.True(t, strings.HasPrefix(v.GoVersion, "go"))
	})
	t.Run("explain_prints_the_fields_the_adapter_decodes", func(t *testing.T) {
		out, stderr, code := omni(t, nil, "explain", "postgres", "query", "-o", "json")
		require.Equal(t, 0, code, stderr)
		var e struct {
			Fields []struct {
				Name     string `json:"name"`
				Required bool   `json:"required"`
			} `json:"fields"`
			Example json.RawMessage `json:"example"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &e), out)
		names := map[string]bool{}
		for _, f := range e.Fields {
			names[f.Name] = f.Required
		}
		require.Equal(t, map[string]bool{"target": true, "sql": true, "args": false, "max_rows": false}, names)
		var example map[string]any
		require.NoError(t, json.Unmarshal(e.Example, &example))
		require.Equal(t, "<sql>", example["sql"], "the example has every field, a placeholder in each")
	})
	t.Run("completion_knows_adapters_and_commands", func(t *testing.T) {
		out, _, code := omni(t, nil, "__complete", "cmd", "")
		require.Equal(t, 0, code)
		for _, a := range []string{"postgres", "kafka", "consul"} {
			require.Contains(t, out, a+"\n")
		}
		out, _, _ = omni(t, nil, "__complete", "cmd", "consul", "kv-")
		require.Contains(t, out, "kv-put")
		out, _, _ = omni(t, nil, "__complete", "state", "--status", "")
		require.Contains(t, out, "critical")
	})
}

// runnableReadmeCommands are the lines of every ```sh block of the README that follows a
// <!-- runnable --> line, comments and blank lines left out. They take no shell quoting.
func runnableReadmeCommands(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	var out []string
	marked, inBlock := false, false
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case strings.TrimSpace(line) == "<!-- runnable -->":
			marked = true
		case marked && !inBlock && strings.HasPrefix(line, "```"):
			inBlock = true
		case inBlock && strings.HasPrefix(line, "```"):
			inBlock, marked = false, false
		case inBlock:
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
				require.NotContains(t, l, "'", "a runnable line takes no shell quoting: %s", l)
				out = append(out, l)
			}
		}
	}
	return out
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := t.TempDir() + "/omni.yaml"
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

package integration_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// omni runs the omni binary with args and env (on top of cleanEnv) and returns stdout, stderr
// and the exit code.
func omni(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, omniBinary(t), args...)
	cmd.Env = append(cleanEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return stdout.String(), stderr.String(), code
}

func TestCLI_missing_settings_stop_with_one_line_naming_each(t *testing.T) {
	for name, tc := range map[string]struct {
		env  []string
		args []string
		want []string
	}{
		"run_without_database_and_brokers": {
			args: []string{"run"},
			want: []string{"DATABASE_URL (--database-url) is not set", "KAFKA_BROKERS (--kafka-brokers) is not set"},
		},
		"run_with_a_broker_without_port": {
			env:  []string{"DATABASE_URL=postgres://u@127.0.0.1:1/db", "KAFKA_BROKERS=localhost"},
			args: []string{"run"},
			want: []string{`KAFKA_BROKERS (--kafka-brokers): "localhost" is not HOST:PORT`},
		},
		"run_with_an_unknown_role": {
			env:  []string{"DATABASE_URL=postgres://u@127.0.0.1:1/db", "KAFKA_BROKERS=127.0.0.1:9092"},
			args: []string{"run", "--roles", "adapters,janitor"},
			want: []string{`--roles: unknown role "janitor"`},
		},
		"migrate_without_database": {
			args: []string{"migrate", "up"},
			want: []string{"DATABASE_URL (--database-url) is not set"},
		},
		"state_with_an_unreachable_database": {
			env:  []string{"DATABASE_URL=postgres://u@127.0.0.1:1/db?connect_timeout=2"},
			args: []string{"state"},
			want: []string{"could not reach DATABASE_URL"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			_, stderr, code := omni(t, tc.env, tc.args...)
			require.NotEqual(t, 0, code, "a wrong setting must fail the command")
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			require.Len(t, lines, 1, "one line, got:\n%s", stderr)
			for _, w := range tc.want {
				require.Contains(t, lines[0], w)
			}
		})
	}
}

func TestCLI_migrate_up_down_to_nothing_and_up_again(t *testing.T) {
	url := control.NewDatabase(t)
	env := []string{"DATABASE_URL=" + url}
	tables := func() []string {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		defer conn.Close(ctx)
		var names []string
		rows, err := conn.Query(ctx,
			`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'goose_db_version' ORDER BY 1`)
		require.NoError(t, err)
		for rows.Next() {
			var n string
			require.NoError(t, rows.Scan(&n))
			names = append(names, n)
		}
		require.NoError(t, rows.Err())
		return names
	}
	want := []string{"adapter_members", "audit_checkpoints", "audit_entries", "event_log", "handed_commands", "infrastructure_intents", "infrastructure_state", "poison_messages",
		"processed_commands", "processed_messages", "projection_replays", "rate_limit_charges", "rate_limit_state", "replay_source", "saga_commands", "saga_instances", "saga_steps",
		"saga_timers", "saga_unroutable", "seal_keys", "target_breakers", "target_leases", "target_memory", "watermill_offsets_outbox", "watermill_outbox"}

	out, stderr, code := omni(t, env, "migrate", "up")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "applied")
	require.Equal(t, want, tables())

	out, _, code = omni(t, env, "migrate", "up")
	require.Equal(t, 0, code)
	require.Contains(t, out, "nothing to apply")

	out, _, code = omni(t, env, "migrate", "status")
	require.Equal(t, 0, code)
	require.NotContains(t, out, "pending")

	// Every migration's down step works: roll back one at a time until nothing is left.
	for range 100 { // more than there will ever be migrations; each pass undoes one
		if len(tables()) == 0 {
			break
		}
		_, stderr, code := omni(t, env, "migrate", "down")
		require.Equal(t, 0, code, stderr)
	}
	require.Empty(t, tables(), "every down step removes what its up step made")

	_, stderr, code = omni(t, env, "migrate", "up")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, want, tables(), "up again after a full rollback")
}

func TestCLI_state_prints_the_projection_as_a_table_and_as_json(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	startApp(t, appConfig(url, kafka.Brokers()))
	waitHealthy(t, db, "postgres/control")
	waitHealthy(t, db, "kafka/bus")

	out, stderr, code := omni(t, []string{"DATABASE_URL=" + url}, "state", "--json")
	require.Equal(t, 0, code, stderr)
	var state struct {
		Overall string `json:"overall"`
		Targets []struct {
			AdapterID string `json:"adapter_id"`
			Status    string `json:"status"`
		} `json:"targets"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &state), out)
	require.Equal(t, "healthy", state.Overall)
	require.Len(t, state.Targets, 2, "the control database and the bus, by default")
	for i, id := range []string{"kafka/bus", "postgres/control"} {
		require.Equal(t, id, state.Targets[i].AdapterID)
		require.Equal(t, "healthy", state.Targets[i].Status)
	}

	out, _, code = omni(t, []string{"DATABASE_URL=" + url}, "state")
	require.Equal(t, 0, code)
	require.Contains(t, out, "postgres/control")
	require.Contains(t, out, "kafka/bus")
	require.Contains(t, out, "overall: healthy (2 targets)")
}

func TestHTTP_healthz_readyz_and_metrics(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	addr := startApp(t, appConfig(url, kafka.Brokers()))
	waitHealthy(t, db, "postgres/control")

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	code, _ := get("/healthz")
	require.Equal(t, http.StatusOK, code)
	code, body := get("/readyz")
	require.Equal(t, http.StatusOK, code, body)
	code, body = get("/metrics")
	require.Equal(t, http.StatusOK, code)
	for _, metric := range []string{
		`omni_outbox_pending_rows{consumer_group="outbox-relay"}`,
		`omni_outbox_lag_query_failed{consumer_group="outbox-relay"} 0`,
		`omni_relay_active{consumer_group="outbox-relay"} 1`,
		`omni_relay_delivered_total{consumer_group="outbox-relay"}`,
		`omni_relay_produce_seconds_count{consumer_group="outbox-relay"}`,
		`omni_consumer_batches_total{consumer_group="infrastate-projection",success="true"}`,
		`omni_consumer_batch_messages_count{consumer_group="infrastate-projection"}`,
	} {
		require.Contains(t, body, metric)
	}
}

// /readyz names each part of the process; it fails, naming the projection, while the projection's
// consumer holds no session (here: its brokers are gone), and is ready again once it consumes.
func TestHTTP_readyz_fails_naming_the_projection_while_its_consumer_is_not_consuming(t *testing.T) {
	kafka := started(t, containers.StartDurableKafka)
	url, _ := newControlDB(t)
	addr := startApp(t, app.Config{DatabaseURL: url, KafkaBrokers: kafka.Brokers(),
		Roles: []app.Role{app.RoleRelay, app.RoleProjection}})
	readyz := func() (bool, string, error) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK, fmt.Sprintf("%d %s", resp.StatusCode, body), err
	}
	eventually(t, 60*time.Second, "ready", readyz)
	_, body, err := readyz()
	require.NoError(t, err)
	require.Contains(t, body, "projection: ready")
	require.Contains(t, body, "router: ready")
	require.Contains(t, body, "control database: ready")

	require.NoError(t, kafka.Stop(context.Background()))
	eventually(t, 60*time.Second, "not ready, naming the projection", func() (bool, string, error) {
		ok, body, err := readyz()
		return !ok && strings.Contains(body, "projection: not ready: consumer group infrastate-projection"), body, err
	})
	_, body, _ = readyz()
	require.True(t, strings.HasPrefix(body, "503 "), body)
	t.Logf("/readyz while the brokers are gone: %s", body)
	require.Contains(t, body, "control database: ready", "the other parts still say they are ready")

	require.NoError(t, kafka.Start(context.Background()))
	eventually(t, 90*time.Second, "ready again", readyz)
}

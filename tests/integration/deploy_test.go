package integration_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/sagas"
	"github.com/omninode/omnibase-infra/tests/compose"
	"github.com/omninode/omnibase-infra/tests/containers"
	"github.com/omninode/omnibase-infra/tests/images"
)

// startedLogs is what each server of the compose file prints once it serves, for the services
// that have neither a healthcheck nor an HTTP port to ask.
var startedLogs = map[string]string{
	"kafka":  "Kafka-protocol broker started",
	"consul": "Consul agent running!",
}

// deployment is deploy/compose.yaml's layout, started by the test on a network of its own: each
// service's image, command, environment, mounted files and replicas as the file gives them.
type deployment struct {
	t       *testing.T
	file    *compose.File
	nw      *containers.Network
	running map[string][]*containers.Service
}

// loadComposeFile reads deploy/compose.yaml with the images the suite built for its variables.
func loadComposeFile(t *testing.T) *compose.File {
	t.Helper()
	root, err := images.ModuleRoot()
	require.NoError(t, err)
	refs := map[string]images.Image{"POSTGRES_IMAGE": images.Postgres, "KAFKA_IMAGE": images.Kafka,
		"CONSUL_IMAGE": images.Consul, "OMNI_IMAGE": images.Omni}
	f, err := compose.Load(filepath.Join(root, "deploy", "compose.yaml"), func(name string) (string, bool) {
		if name == "OMNI_SEAL_KEK" {
			return containers.TestKEK, true
		}
		im, ok := refs[name]
		if !ok {
			return "", false
		}
		ref, err := im.Ref(root)
		require.NoError(t, err)
		return ref, true
	})
	require.NoError(t, err)
	return f
}

func newDeployment(t *testing.T) *deployment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nw, err := containers.NewNetwork(ctx)
	t.Cleanup(func() {
		if err := nw.Remove(context.Background()); err != nil {
			t.Logf("could not remove the network: %v", err)
		}
	})
	require.NoError(t, err)
	d := &deployment{t: t, file: loadComposeFile(t), nw: nw, running: map[string][]*containers.Service{}}
	t.Cleanup(func() {
		if t.Failed() {
			d.dumpLogs()
		}
	})
	return d
}

// extra is what the test adds to a service of the file: arguments to its command, and ports it
// publishes for the test's own look (the file publishes none of the servers').
type extra struct {
	args  []string
	ports []string
}

// up starts the services of the file in the order their depends_on gives, each after the one
// before it is ready, and every replica of each.
func (d *deployment) up(extras map[string]extra) {
	t := d.t
	t.Helper()
	order, err := d.file.Order()
	require.NoError(t, err)
	for _, name := range order {
		s := d.file.Services[name]
		for i := 1; i <= s.Replicas(); i++ {
			d.start(name, fmt.Sprintf("%s-%d", name, i), s, extras[name])
		}
		if d.oneShot(name) {
			code, err := d.running[name][0].ExitCode(context.Background())
			require.NoError(t, err)
			logs, _ := d.running[name][0].Logs(context.Background())
			require.Equal(t, 0, code, "%s exited with %d: %s", name, code, logs)
		}
	}
}

// start starts one container of service s as alias, reachable by the service's name and its own.
func (d *deployment) start(name, alias string, s compose.Service, x extra) *containers.Service {
	t := d.t
	t.Helper()
	cfg := containers.ServiceConfig{
		Ref:          s.Image,
		Aliases:      slices.Compact([]string{name, alias}),
		Cmd:          append(slices.Clone(s.Command), x.args...),
		Env:          maps.Clone(s.Environment),
		StopSignal:   s.StopSignal,
		ExposedPorts: slices.Clone(x.ports),
	}
	for _, m := range s.Mounts() {
		// Named volumes keep data across restarts of the layout; the test's containers are
		// throwaway, so only the files the file mounts from the checkout are given.
		if !m.Named {
			cfg.Files = append(cfg.Files, testcontainers.ContainerFile{HostFilePath: m.Source, ContainerFilePath: m.Target, FileMode: 0o644})
		}
	}
	for _, p := range s.Ports {
		cfg.ExposedPorts = append(cfg.ExposedPorts, p[strings.LastIndex(p, ":")+1:]+"/tcp")
	}
	cfg.Wait = d.readiness(name, s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	svc, err := d.nw.StartService(ctx, cfg)
	if svc != nil {
		t.Cleanup(func() { _ = svc.Terminate(context.Background()) })
	}
	require.NoError(t, err, "service %s", alias)
	t.Logf("%-14s ready in %s", alias, time.Since(start).Round(10*time.Millisecond))
	d.running[name] = append(d.running[name], svc)
	return svc
}

// oneShot says whether another service waits for this one to complete.
func (d *deployment) oneShot(name string) bool {
	for _, s := range d.file.Services {
		if s.DependsOn[name].Condition == compose.ServiceCompletedSuccessfully {
			return true
		}
	}
	return false
}

// readiness is what the test waits for before the services that depend on this one start.
func (d *deployment) readiness(name string, s compose.Service) wait.Strategy {
	switch {
	case d.oneShot(name):
		return wait.ForExit().WithExitTimeout(2 * time.Minute)
	case s.Healthcheck != nil:
		return wait.ForExec(s.Healthcheck.Test[1:]).WithStartupTimeout(2 * time.Minute)
	case len(s.Ports) > 0:
		return wait.ForHTTP("/readyz").WithPort(httpPort).WithStartupTimeout(2 * time.Minute)
	}
	log, ok := startedLogs[name]
	require.True(d.t, ok, "the test does not know when service %s is ready: give it a healthcheck or add it to startedLogs", name)
	return wait.ForLog(log).WithStartupTimeout(2 * time.Minute)
}

// httpPort is omni's /healthz, /readyz and /metrics in its container.
const httpPort = "8081/tcp"

// run runs the file's CLI service with args, as `docker compose run --rm omni ARGS` would, and
// returns what it printed and its exit status.
func (d *deployment) run(args ...string) (string, int) {
	t := d.t
	t.Helper()
	s := d.file.Services["omni"]
	require.Contains(t, s.Profiles, "cli")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	svc, err := d.nw.StartService(ctx, containers.ServiceConfig{Ref: s.Image, Aliases: []string{"omni-cli"},
		Cmd: args, Env: maps.Clone(s.Environment), Wait: wait.ForExit().WithExitTimeout(time.Minute)})
	if svc != nil {
		defer func() { _ = svc.Terminate(context.Background()) }()
	}
	require.NoError(t, err, "omni %v", args)
	code, err := svc.ExitCode(ctx)
	require.NoError(t, err)
	out, err := svc.Logs(ctx)
	require.NoError(t, err)
	return out, code
}

// ready says whether every running container of the role services answers /readyz with 200.
func (d *deployment) ready(names ...string) (bool, string, error) {
	for _, name := range names {
		for i, svc := range d.running[name] {
			ep, err := svc.Endpoint(context.Background(), httpPort)
			if err != nil {
				return false, "", err
			}
			resp, err := http.Get("http://" + ep + "/readyz")
			if err != nil {
				return false, "", err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return false, fmt.Sprintf("%s-%d: %s", name, i+1, resp.Status), nil
			}
		}
	}
	return true, "", nil
}

func (d *deployment) dumpLogs() {
	for name, svcs := range d.running {
		for i, svc := range svcs {
			if out, err := svc.Logs(context.Background()); err == nil {
				d.t.Logf("--- %s-%d's last output:\n%s", name, i+1, lastBytes(out, 3000))
			}
		}
	}
}

func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// The compose layout as written — PostgreSQL, the broker, Consul, the migration, two processes of
// each role — carries a real fault to a completed failover while one relay, one projector and one
// orchestrator are killed with SIGKILL and started again; afterwards every process is ready and
// replaying the event log gives the live state.
func TestDeploy_compose_layout_fails_over_a_target_while_role_processes_are_killed(t *testing.T) {
	began := time.Now()
	d := newDeployment(t)
	// The target the fault is put into: a second PostgreSQL like the file's, on the same network,
	// given to the adapters as "orders" (giving one replaces the default target, the control
	// database: the target set stays small). The control database is published for the test's
	// own queries.
	d.start("orders", "orders", d.file.Services["postgres"], extra{})
	orders := d.running["orders"][0]
	const ordersURL = "postgres://postgres@orders:5432/postgres?sslmode=disable"
	d.up(map[string]extra{
		"postgres": {ports: []string{"5432/tcp"}},
		"adapters": {args: []string{"--postgres-target", "orders=" + ordersURL}},
	})
	require.Len(t, d.running["adapters"], 2)
	for _, role := range []string{"relay", "projection", "sagas"} {
		require.Len(t, d.running[role], 2, "two %s processes", role)
	}
	t.Logf("layout up in %s", time.Since(began).Round(time.Second))

	ep, err := d.running["postgres"][0].Endpoint(context.Background(), "5432/tcp")
	require.NoError(t, err)
	db, err := app.Connect(context.Background(), "postgres://postgres@"+ep+"/postgres?sslmode=disable")
	require.NoError(t, err)
	t.Cleanup(db.Close)
	for _, id := range []string{"postgres/orders", "kafka/bus", "consul/agent"} {
		waitHealthy(t, db, id)
	}
	healthyAt := time.Now()

	// The fault: the orders server goes away.
	ctx := context.Background()
	require.NoError(t, orders.Stop(ctx))
	id := failoverSaga(t, db, "postgres/orders", 2*time.Minute)
	t.Logf("failover saga %s started %s after the fault", id, time.Since(healthyAt).Round(time.Second))

	// Crashes mid-saga: one process of each of relay, projection and sagas.
	killed := []*containers.Service{d.running["relay"][0], d.running["projection"][0], d.running["sagas"][0]}
	for _, svc := range killed {
		require.NoError(t, svc.Kill(ctx), "SIGKILL")
	}
	// The survivors carry the saga on to polling the recovery.
	st := waitSaga(t, db, id, 2*time.Minute, "the failover polling the recovery", func(st sagas.Story) bool {
		return slices.Contains(events_(st), "poll_recovery:poll_scheduled")
	})
	require.Equal(t, sagas.StatusRunning, st.Status, "%v", events_(st))
	require.Contains(t, events_(st), "open_breaker:step_done")
	for _, svc := range killed {
		require.NoError(t, svc.Start(ctx), "the killed process starts again and gets ready")
	}
	require.NoError(t, orders.Start(ctx))

	st = waitSaga(t, db, id, 2*time.Minute, "the failover completing", ended)
	require.Equal(t, sagas.StatusCompleted, st.Status, "%v", events_(st))
	require.Contains(t, events_(st), "close_breaker:step_done")
	var recoveries, failed int
	for _, c := range st.Commands {
		if c.Kind == "recover_target/v1" {
			recoveries++
			if c.Outcome != sagas.ReplySucceeded {
				failed++
			}
		}
	}
	require.Greater(t, failed, 0, "recovery was tried while the server was away")
	require.Equal(t, recoveries-1, failed, "the last recovery succeeded")
	t.Logf("failover completed %s after the fault: %d recovery attempts, %v", time.Since(healthyAt).Round(time.Second), recoveries, events_(st))
	waitHealthy(t, db, "postgres/orders")
	eventually(t, time.Minute, "the breaker of postgres/orders closed", func() (bool, string, error) {
		s := currentState(t, db, "postgres/orders")
		return s.Breaker == events.BreakerClosed, string(s.Breaker), nil
	})

	// What an operator checks: every process ready, the saga in the list, nothing poisoned, and
	// the projection rebuilt from the event log equal to the live one.
	eventually(t, time.Minute, "every role process ready", func() (bool, string, error) {
		return d.ready("adapters", "relay", "projection", "sagas")
	})
	out, code := d.run("sagas", "list", "--workflow", "failover", "--subject", "postgres/orders", "--status", "completed", "-o", "jsonl")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, id)
	var poisoned int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM poison_messages`).Scan(&poisoned))
	require.Zero(t, poisoned, "no message was given up")
	out, code = d.run("replay", "--verify")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "verified: the replayed state equals the live state")
	t.Logf("whole test %s", time.Since(began).Round(time.Second))
}

// failoverSaga waits for the first failover saga of subject.
func failoverSaga(t *testing.T, db *pgxpool.Pool, subject string, timeout time.Duration) string {
	t.Helper()
	var id string
	eventually(t, timeout, "a failover saga for "+subject, func() (bool, string, error) {
		list, err := sagas.List(context.Background(), db, sagas.Filter{Workflow: "failover", Subject: subject})
		if err != nil || len(list) == 0 {
			return false, "none yet", err
		}
		id = list[len(list)-1].ID // the oldest
		return true, "", nil
	})
	return id
}

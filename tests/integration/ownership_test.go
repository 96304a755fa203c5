package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	consulapi "github.com/hashicorp/consul/api"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/postgres"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/projections/infrastate"
	"github.com/omninode/omnibase-infra/tests/containers"
)

const (
	ownershipProbeInterval = 500 * time.Millisecond
	ownershipLease         = 2 * time.Second
)

// adapterArgs are the flags of an adapter process of these tests, named member.
func adapterArgs(member string, targets ...string) []string {
	args := []string{"--adapter-member=" + member, "--probe-interval=" + ownershipProbeInterval.String(),
		"--lease-ttl=" + ownershipLease.String(), "--probe-timeout=400ms", "--degraded-after=2", "--critical-after=4"}
	for _, t := range targets {
		args = append(args, "--postgres-target="+t)
	}
	return args
}

// owners are the live leases of the adapter's targets: adapter id → owner.
func owners(t *testing.T, db *pgxpool.Pool, adapter string) map[string]string {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT adapter_id, owner FROM target_leases
		WHERE adapter_id LIKE $1 || '/%' AND expires_at > now() AND owner <> ''`, adapter)
	require.NoError(t, err)
	out := map[string]string{}
	for rows.Next() {
		var id, owner string
		require.NoError(t, rows.Scan(&id, &owner))
		out[id] = owner
	}
	require.NoError(t, rows.Err())
	return out
}

// byOwner counts targets per owner.
func byOwner(owned map[string]string) map[string]int {
	out := map[string]int{}
	for _, o := range owned {
		out[o]++
	}
	return out
}

// loggedProbe is a scheduled health report of the event log.
type loggedProbe struct {
	id string
	events.AdapterHealthReported
}

// scheduledProbes are the scheduled probes in the event log, by adapter id, in log order.
func scheduledProbes(t *testing.T, db *pgxpool.Pool) map[string][]loggedProbe {
	t.Helper()
	out := map[string][]loggedProbe{}
	for _, e := range readTopic(t, db, events.DefaultTopics().Events) {
		_, m, err := events.Catalog().Decode(e.Message)
		require.NoError(t, err)
		if p, ok := m.(events.AdapterHealthReported); ok && !p.Requested {
			out[p.AdapterID] = append(out[p.AdapterID], loggedProbe{id: e.Message.UUID, AdapterHealthReported: p})
		}
	}
	return out
}

// readTopic is every event of topic in the event log.
func readTopic(t *testing.T, db *pgxpool.Pool, topic string) []outbox.LoggedEvent {
	t.Helper()
	var all []outbox.LoggedEvent
	var after int64
	for {
		batch, err := outbox.ReadLog(context.Background(), db, topic, after, 5000)
		require.NoError(t, err)
		all = append(all, batch...)
		if len(batch) < 5000 {
			return all
		}
		after = batch[len(batch)-1].Seq
	}
}

// Three adapter processes over nine PostgreSQL targets: each process owns three, each target is
// probed at one process's rate, the hysteresis takes as many probes as configured; one process
// killed, its targets are owned again within the lease, no probe or command runs twice meanwhile,
// and omni state shows the new owners.
func TestOwnership_three_adapter_processes_share_nine_targets_and_take_over_a_dead_ones(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	ctx := context.Background()
	_, err := db.Exec(ctx, `CREATE TABLE handover_marks (i int NOT NULL)`)
	require.NoError(t, err)
	var targets []string
	for i := 1; i <= 8; i++ {
		targets = append(targets, fmt.Sprintf("t%d=%s", i, url))
	}
	targets = append(targets, "t9=postgres://omni@127.0.0.1:1/gone?sslmode=disable&connect_timeout=1") // always down
	members := []string{"a1", "a2", "a3"}
	procs := map[string]*omniProcess{}
	for _, m := range members {
		procs[m] = startOmniProcess(t, url, kafka.Brokers(), "adapters", adapterArgs(m, targets...)...)
	}
	loop := startOmniProcess(t, url, kafka.Brokers(), "relay,projection", "--degraded-after=2", "--critical-after=4")
	for _, p := range append(slices.Collect(mapsValues(procs)), loop) {
		p.ready(t)
	}

	eventually(t, 60*time.Second, "three processes owning three targets each", func() (bool, string, error) {
		counts := byOwner(owners(t, db, events.AdapterPostgres))
		return len(counts) == 3 && counts["a1"] == 3 && counts["a2"] == 3 && counts["a3"] == 3, fmt.Sprint(counts), nil
	})
	settled := time.Now()
	time.Sleep(5 * time.Second)
	window := time.Since(settled)
	probes := scheduledProbes(t, db)
	perInterval := float64(window) / float64(ownershipProbeInterval)
	for i := 1; i <= 9; i++ {
		id := fmt.Sprintf("postgres/t%d", i)
		n := 0
		for _, p := range probes[id] {
			if p.ProbedAt.After(settled) {
				n++
			}
		}
		t.Logf("%s: %d scheduled probes in %s (one process's rate: %.1f)", id, n, window.Round(time.Millisecond), perInterval)
		require.InDelta(t, perInterval, float64(n), perInterval*0.3+1, "%s is probed at one process's rate", id)
	}

	// The always-down target: degraded at its second failed probe, critical at its fourth.
	requireIntentAtProbe(t, db, probes["postgres/t9"], "infrastructure_health_degraded", 2)
	requireIntentAtProbe(t, db, probes["postgres/t9"], "infrastructure_health_critical", 4)

	// Commands before the kill, each answered: nothing is in flight when a1 dies.
	cmd := newCommander(t, db, kafka.Brokers())
	mark := func(i int) events.Command {
		return events.PostgresExecute{On: events.On{Target: fmt.Sprintf("t%d", i%8+1)},
			Statement: events.Statement{SQL: "INSERT INTO handover_marks VALUES ($1)", Args: []json.RawMessage{json.RawMessage(fmt.Sprint(i))}}}
	}
	w := cmd.watch()
	var before []string
	for i := range 16 {
		before = append(before, cmd.send(mark(i)))
	}
	for _, id := range before {
		succeeded(t, cmd.await(w, id), nil)
	}

	dead := owners(t, db, events.AdapterPostgres)
	var deadTargets []string
	for id, o := range dead {
		if o == "a1" {
			deadTargets = append(deadTargets, id)
		}
	}
	sort.Strings(deadTargets)
	killed := time.Now()
	require.NoError(t, procs["a1"].cmd.Process.Signal(syscall.SIGKILL))
	// Commands during the handover, some for the dead process's targets.
	var during []string
	for i := 16; i < 40; i++ {
		during = append(during, cmd.send(mark(i)))
		time.Sleep(50 * time.Millisecond)
	}
	var takeover time.Duration
	eventually(t, 30*time.Second, "a1's targets owned by a2 and a3", func() (bool, string, error) {
		now := owners(t, db, events.AdapterPostgres)
		for _, id := range deadTargets {
			if o := now[id]; o != "a2" && o != "a3" {
				return false, fmt.Sprint(now), nil
			}
		}
		takeover = time.Since(killed)
		return true, "", nil
	})
	t.Logf("a1 killed; its targets %v owned again after %s (lease %s)", deadTargets, takeover.Round(time.Millisecond), ownershipLease)
	require.Less(t, takeover, 3*ownershipLease, "taken over within the lease and a renewal")
	for _, id := range during {
		succeeded(t, cmd.await(w, id), nil)
	}

	// Every command ran once: one mark each, one record each.
	var marks, distinct int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*), count(DISTINCT i) FROM handover_marks`).Scan(&marks, &distinct))
	require.Equal(t, 40, marks, "each command's effect once")
	require.Equal(t, 40, distinct)
	// No target was probed by two processes at once: consecutive probes of a target are a probe
	// interval apart (a little less with jitter), never two probers' worth closer.
	probes = scheduledProbes(t, db)
	for id, ps := range probes {
		var after []time.Time
		for _, p := range ps {
			if p.ProbedAt.After(settled) {
				after = append(after, p.ProbedAt)
			}
		}
		sort.Slice(after, func(i, j int) bool { return after[i].Before(after[j]) })
		for i := 1; i < len(after); i++ {
			gap := after[i].Sub(after[i-1])
			require.Greater(t, gap, ownershipProbeInterval/2, "%s probed twice within %s at %s", id, gap, after[i])
		}
	}

	// omni state shows the handover.
	eventually(t, 30*time.Second, "the projection showing the new owners", func() (bool, string, error) {
		states, err := infrastate.List(ctx, db)
		if err != nil {
			return false, "", err
		}
		for _, s := range states {
			if slices.Contains(deadTargets, s.AdapterID) && (s.Owner == "a1" || s.Owner == "" || s.OwnerToken < 2) {
				return false, s.AdapterID + " owned by " + s.Owner, nil
			}
		}
		return true, "", nil
	})
	state := exec.Command(omniBinary(t), "state", "-o", "wide") // owner and owner_since are wide columns
	state.Env = append(cleanEnv(), "DATABASE_URL="+url)
	out, err := state.CombinedOutput()
	require.NoError(t, err, string(out))
	for _, line := range strings.Split(string(out), "\n") {
		for _, id := range deadTargets {
			if strings.HasPrefix(line, id+" ") {
				require.Regexp(t, `\sa[23]\s+\d\d:\d\d:\d\d`, line, "omni state shows who owns %s since when", id)
			}
		}
	}
	t.Logf("omni state after the handover:\n%s", out)
}

func mapsValues[K comparable, V any](m map[K]V) func(func(V) bool) {
	return func(yield func(V) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

// requireIntentAtProbe checks that intent was raised for the probes' target by its nth probe.
func requireIntentAtProbe(t *testing.T, db *pgxpool.Pool, probes []loggedProbe, intent string, nth int) {
	t.Helper()
	require.GreaterOrEqual(t, len(probes), nth)
	subject := probes[0].AdapterID
	var causedBy string
	eventually(t, 30*time.Second, intent+" for "+subject, func() (bool, string, error) {
		for _, e := range readTopic(t, db, events.DefaultTopics().Intents) {
			_, m, err := events.Catalog().Decode(e.Message)
			if err != nil {
				return false, "", err
			}
			if in, ok := m.(events.IntentMessage); ok && in.Kind().Name == intent && in.Fields().Subject == subject {
				causedBy = in.Fields().CausedBy
				return true, "", nil
			}
		}
		return false, "not raised yet", nil
	})
	for i, p := range probes {
		if p.id == causedBy {
			require.Equal(t, nth, i+1, "%s raised by probe %d of %s", intent, i+1, subject)
			return
		}
	}
	t.Fatalf("%s for %s was caused by %s, not one of its probes", intent, subject, causedBy)
}

// A breaker forced open stays open when its owner dies: the next owner loads it and refuses
// commands with the same reason until close_breaker.
func TestOwnership_a_forced_open_breaker_outlives_its_owner(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	first := startOmniProcess(t, url, kafka.Brokers(), "adapters,relay", adapterArgs("first", "orders="+url)...)
	first.ready(t)
	cmd := newCommander(t, db, kafka.Brokers())
	query := events.PostgresQuery{On: events.On{Target: "orders"}, Statement: events.Statement{SQL: "SELECT 1"}}
	succeeded(t, cmd.run(query), nil)
	succeeded(t, cmd.run(events.OpenBreaker{Adapter: events.AdapterPostgres, Target: "orders", Reason: "maintenance window"}), nil)
	require.Contains(t, failed(t, cmd.run(query)).Error, "forced open (maintenance window)")

	require.NoError(t, first.cmd.Process.Signal(syscall.SIGKILL))
	<-first.exited
	second := startOmniProcess(t, url, kafka.Brokers(), "adapters,relay", adapterArgs("second", "orders="+url)...)
	second.ready(t)
	eventually(t, 30*time.Second, "second owning orders", func() (bool, string, error) {
		o := owners(t, db, events.AdapterPostgres)["postgres/orders"]
		return o == "second", o, nil
	})
	f := failed(t, cmd.run(query))
	require.Contains(t, f.Error, "forced open (maintenance window)", "the new owner keeps the breaker forced open")
	require.True(t, f.Transient)

	// Killed and started again under the same member name (a pod's stable name): it takes its
	// target back at once rather than after the lease, with a new token, and the breaker still.
	require.NoError(t, second.cmd.Process.Signal(syscall.SIGKILL))
	<-second.exited
	var token int64
	require.NoError(t, db.QueryRow(context.Background(), `SELECT token FROM target_leases WHERE adapter_id = 'postgres/orders'`).Scan(&token))
	restarted := time.Now()
	again := startOmniProcess(t, url, kafka.Brokers(), "adapters,relay", adapterArgs("second", "orders="+url)...)
	again.ready(t)
	eventually(t, 30*time.Second, "second owning orders again with a new token", func() (bool, string, error) {
		var now int64
		err := db.QueryRow(context.Background(), `SELECT token FROM target_leases WHERE adapter_id = 'postgres/orders' AND owner = 'second'`).Scan(&now)
		return err == nil && now > token, fmt.Sprint(now, err), nil
	})
	t.Logf("restarted under the same member: owning its target again %s after its start (lease %s)",
		time.Since(restarted).Round(time.Millisecond), ownershipLease)
	require.Contains(t, failed(t, cmd.run(query)).Error, "forced open (maintenance window)")

	var res struct {
		Was events.BreakerState `json:"was"`
	}
	succeeded(t, cmd.run(events.CloseBreaker{Adapter: events.AdapterPostgres, Target: "orders", Reason: "done"}), &res)
	require.Equal(t, events.BreakerOpen, res.Was)
	succeeded(t, cmd.run(query), nil)
}

// The control database stopped while a command runs against its target: the effect happened, so
// its outcome is recorded as a success once the database is back — not run again, not recorded
// as failed. The probes of a target that fail meanwhile cannot be recorded, and so do not open
// its breaker: commands go through at once afterwards.
func TestOwnership_a_command_that_ran_while_the_control_database_was_down_is_recorded_as_it_ran(t *testing.T) {
	kafka := newKafka(t)
	ctl := started(t, containers.StartDurablePostgres)
	ctx := context.Background()
	require.NoError(t, app.Migrate(ctx, ctl.URL, testLogger(t)))
	db, err := app.Connect(ctx, ctl.URL)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	targetURL, target := newControlDB(t)
	_, err = target.Exec(ctx, `CREATE TABLE effects (note text NOT NULL)`)
	require.NoError(t, err)

	cfg := adapterConfig(ctl.URL, kafka.Brokers())
	cfg.Adapters.ProbeInterval = 200 * time.Millisecond
	cfg.Adapters.CommandTimeout = 20 * time.Second
	cfg.Adapters.Breaker.Failures = 3
	cfg.Adapters.LeaseTTL = ownershipLease
	cfg.Postgres.Targets = []postgres.Target{{Name: "orders", URL: targetURL}, {Name: "control", URL: ctl.URL}}
	startApp(t, cfg)
	cmd := newCommander(t, db, kafka.Brokers())
	succeeded(t, cmd.run(events.PostgresQuery{On: events.On{Target: "control"}, Statement: events.Statement{SQL: "SELECT 1"}}), nil)

	id := cmd.send(events.PostgresExecute{On: events.On{Target: "orders"},
		Statement: events.Statement{SQL: "INSERT INTO effects SELECT 'slow' FROM pg_sleep(4)"}})
	eventually(t, 30*time.Second, "the slow command running on its target", func() (bool, string, error) {
		var n int
		err := target.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'INSERT INTO effects%'`).Scan(&n)
		return n > 0, "", err
	})
	require.NoError(t, ctl.Stop(ctx))
	time.Sleep(6 * time.Second)
	require.NoError(t, ctl.Start(ctx))

	var status string
	eventually(t, 60*time.Second, "the command's record", func() (bool, string, error) {
		err := db.QueryRow(ctx, `SELECT outcome->>'status' FROM processed_commands WHERE command_id = $1`, id).Scan(&status)
		return err == nil, fmt.Sprint(err), nil
	})
	require.Equal(t, "succeeded", status, "recorded as it ran")
	var effects int
	require.NoError(t, target.QueryRow(ctx, `SELECT count(*) FROM effects`).Scan(&effects))
	require.Equal(t, 1, effects, "run once")
	outcomes := 0
	for _, e := range readTopic(t, db, events.DefaultTopics().Events) {
		_, m, err := events.Catalog().Decode(e.Message)
		require.NoError(t, err)
		switch o := m.(type) {
		case events.CommandSucceeded:
			if o.CommandID == id {
				outcomes++
			}
		case events.CommandFailed:
			require.NotEqual(t, id, o.CommandID, "never recorded as failed")
		case events.CircuitBreakerStateChanged:
			require.NotEqual(t, "postgres/control", o.AdapterID, "probes that could not be recorded moved the breaker: %+v", o)
		}
	}
	require.Equal(t, 1, outcomes)
	// The control target's probes failed for six seconds, unrecorded: its breaker let nothing be
	// refused afterwards.
	caused := cmd.run(events.PostgresQuery{On: events.On{Target: "control"}, Statement: events.Statement{SQL: "SELECT 1"}})
	succeeded(t, caused, nil)
}

// The Consul services an adapter registered are registered again by recover_target after the
// adapter was killed and another process owns the agent, once the agent has forgotten them.
func TestOwnership_consul_services_registered_before_an_adapter_restart_are_registered_again(t *testing.T) {
	agent := started(t, containers.StartConsul)
	kafka := newKafka(t)
	url, db := newControlDB(t)
	args := func(member string) []string {
		return append(adapterArgs(member), "--consul-target=agent="+agent.Addr)
	}
	first := startOmniProcess(t, url, kafka.Brokers(), "adapters,relay", args("first")...)
	first.ready(t)
	cmd := newCommander(t, db, kafka.Brokers())
	service := "web-" + watermill.NewShortUUID()
	succeeded(t, cmd.run(events.ConsulRegisterService{On: onAgent, ServiceID: service, Name: "web", Port: 8080}), nil)

	require.NoError(t, first.cmd.Process.Signal(syscall.SIGKILL))
	<-first.exited
	ctx := context.Background()
	require.NoError(t, agent.Stop(ctx))
	require.NoError(t, agent.Start(ctx))
	client, err := consulapi.NewClient(&consulapi.Config{Address: agent.Addr})
	require.NoError(t, err)
	services, err := client.Agent().Services()
	require.NoError(t, err)
	require.NotContains(t, services, service, "the restarted dev agent forgot the service")

	second := startOmniProcess(t, url, kafka.Brokers(), "adapters,relay", args("second")...)
	second.ready(t)
	eventually(t, 30*time.Second, "second owning consul/agent", func() (bool, string, error) {
		o := owners(t, db, events.AdapterConsul)["consul/agent"]
		return o == "second", o, nil
	})
	var res recoverResult
	succeeded(t, cmd.run(events.RecoverTarget{Adapter: events.AdapterConsul, Target: "agent"}), &res)
	require.Equal(t, recoverResult{Recovered: true, Actions: []string{"re-registered service " + service}}, res)
	got, _, err := client.Agent().Service(service, nil)
	require.NoError(t, err, "Consul knows the service again")
	require.Equal(t, 8080, got.Port)
}

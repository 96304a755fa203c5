package bench_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/projections/infrastate"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// BenchmarkResidentMemory measures the peak resident memory (VmHWM) of one `omni run` process
// with every role — adapters, relay, projection, sagas — while health reports are committed into
// its outbox at 5,000 events/s (healthLoad, the end-to-end benchmark's stream five times as
// fast). The process is the binary `make build` builds, on its default topics and flags but for
// a latency window that holds as many samples as the default schedule's.
func BenchmarkResidentMemory(b *testing.B) {
	const rate, targets = 5000, 64
	once(b, func() {
		bin := omniBinary(b)
		url := migratedDB(b)
		db := connect(b, url)
		topics := events.DefaultTopics()
		k := newBroker(b)
		made := []string{topics.Events, topics.Intents}
		for _, a := range []string{events.AdapterPostgres, events.AdapterKafka, events.AdapterConsul} {
			made = append(made, topics.Commands(a))
		}
		k.create(b, made...)
		defer k.drop(b, made...)
		port, err := containers.FreePort()
		require.NoError(b, err)
		addr := fmt.Sprintf("127.0.0.1:%d", port)

		logs, err := os.Create(filepath.Join(b.TempDir(), "omni.log"))
		require.NoError(b, err)
		defer logs.Close()
		// The latency window that holds the samples of the default schedule at this rate (see
		// e2eThresholds): at 5,000 reports/s over 64 targets, 0.8s.
		cmd := exec.Command(bin, "run", "--roles=adapters,relay,projection,sagas", "--skip-migrate",
			"--http-addr", addr, "--log-level", "warn", "--latency-window", "800ms")
		cmd.Env = append(os.Environ(), "DATABASE_URL="+url, "KAFKA_BROKERS="+kafka.Addr)
		cmd.Stdout, cmd.Stderr = logs, logs
		require.NoError(b, cmd.Start())
		p := watch(cmd)
		defer p.stop(b, logs.Name())
		waitReady(b, addr, p.exited)

		// Ten reports per transaction: one per transaction would take more of this machine's CPU
		// than the process measured, and fall short of the rate.
		load := healthLoad{DB: db, Topic: topics.Events, Adapter: events.AdapterConsul, Targets: targets, Rate: rate,
			PerTx: 10, Period: 13 * time.Second, Workers: 8}
		committed, _, took, err := load.run(context.Background(), *loadFor)
		require.NoError(b, err)
		peak, err := peakRSS(cmd.Process.Pid)
		require.NoError(b, err)
		behind := committed - applied(b, db, topics.Events)

		results.Record(b, "rss_mb", peak, "MB")
		results.Record(b, "rss_events_per_s", float64(committed)/took.Seconds(), "events/s")
		results.Record(b, "rss_projection_behind_events", float64(behind), "events")
		fmt.Printf("omni run, every role: peak RSS %.1f MB at %.0f events/s for %s (the projection %d events behind when the load stopped)\n",
			peak, float64(committed)/took.Seconds(), *loadFor, behind)
	})
}

// peakRSS is the process's peak resident set (VmHWM) in MiB.
func peakRSS(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("could not read the status of process %d: %w", pid, err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err != nil {
				return 0, fmt.Errorf("could not read VmHWM %q: %w", v, err)
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("process %d has no VmHWM in its status: %v", pid, s.Err())
}

// applied is how many reports of topic the projection has applied.
func applied(b *testing.B, db *pgxpool.Pool, topic string) int {
	var n int
	require.NoError(b, db.QueryRow(context.Background(), `SELECT count(*) FROM processed_messages p
		JOIN event_log e ON e.event_id = p.message_id WHERE p.consumer = $1 AND e.topic = $2`,
		infrastate.ConsumerName, topic).Scan(&n))
	return n
}

// process is a started command and how it ended.
type process struct {
	cmd *exec.Cmd
	// exited receives Wait's error once, for a waiter that gives up when the process dies.
	exited chan error
	done   chan struct{}
	err    error
}

func watch(cmd *exec.Cmd) *process {
	p := &process{cmd: cmd, exited: make(chan error, 1), done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		p.exited <- p.err
		close(p.done)
	}()
	return p
}

// stop ends the process as an operator would, with SIGTERM, and kills it if it has not exited
// within a minute; its log is shown when it failed.
func (p *process) stop(b *testing.B, logPath string) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.err = fmt.Errorf("no exit within a minute of SIGTERM: %w", p.err)
	}
	if p.err != nil || b.Failed() {
		out, _ := os.ReadFile(logPath)
		b.Errorf("omni run: %v; its log:\n%s", p.err, tail(string(out), 4000))
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// omniBinary builds cmd/omni as tests/integration does, into the benchmark's temporary directory.
func omniBinary(b *testing.B) string {
	path := filepath.Join(b.TempDir(), "omni")
	out, err := exec.Command("go", "build", "-o", path, "../../cmd/omni").CombinedOutput()
	require.NoError(b, err, "go build: %s", out)
	return path
}

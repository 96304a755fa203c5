package integration_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/tests/containers"
)

// TestDev_runs_the_whole_loop_on_embedded_defaults runs `omni dev` as `make run` does, with Consul
// given: it must start its own PostgreSQL and broker, see Consul's leader, report the control
// database healthy through the whole loop, and remove what it started on SIGINT.
func TestDev_runs_the_whole_loop_on_embedded_defaults(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	consul := started(t, containers.StartConsul)

	bin := omniBinary(t)
	port, err := containers.FreePort()
	require.NoError(t, err)
	cmd := exec.CommandContext(ctx, bin, "dev", "--http-addr", fmt.Sprintf("127.0.0.1:%d", port), "--console-addr", "127.0.0.1:0", "--probe-interval", "300ms")
	cmd.Env = append(cleanEnv(), "CONSUL_HTTP_ADDR="+consul.Addr)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var printed []string
	var pgURL string
	waitLine := func(what string, match func(string) bool) {
		t.Helper()
		timeout := time.After(90 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				require.True(t, ok, "omni dev exited before printing %s; printed:\n%s\nstderr:\n%s", what, strings.Join(printed, "\n"), stderr.String())
				printed = append(printed, l)
				if match(l) {
					return
				}
			case <-timeout:
				t.Fatalf("omni dev did not print %s within 90s; printed:\n%s\nstderr:\n%s", what, strings.Join(printed, "\n"), stderr.String())
			}
		}
	}
	waitLine("the throwaway PostgreSQL", func(l string) bool {
		if _, after, ok := strings.Cut(l, "started, throwaway"); ok {
			pgURL = strings.TrimSpace(after)
			return true
		}
		return false
	})
	waitLine("the in-process broker", func(l string) bool { return strings.Contains(l, "in-process broker") })
	waitLine("Consul's leader", func(l string) bool { return strings.Contains(l, consul.Addr) && strings.Contains(l, "leader") })
	waitLine("the control database healthy", func(l string) bool {
		return strings.Contains(l, "postgres/control") && strings.Contains(l, "healthy")
	})

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	for range lines {
	}
	require.NoError(t, cmd.Wait(), "omni dev exits cleanly on SIGINT; stderr:\n%s", stderr.String())
	dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
	defer dcancel()
	conn, err := pgx.Connect(dctx, pgURL)
	if err == nil {
		_ = conn.Close(dctx)
	}
	require.Error(t, err, "the throwaway PostgreSQL is gone after exit")
}

// cleanEnv is the test's environment without the settings dev would take instead of its defaults.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case name == "DATABASE_URL", name == "KAFKA_BROKERS", name == "CONSUL_HTTP_ADDR",
			strings.HasPrefix(name, "OMNI_"): // every OMNI_<FLAG> is a setting now
			continue
		}
		env = append(env, kv)
	}
	return append(env, containers.SealEnv) // every omni of the suite holds the test key
}

// lockedBuffer collects a process's output while the test reads it: exec writes from a goroutine
// of its own.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Package integration_test runs omnibase-infra against real PostgreSQL, Kafka-protocol and Consul
// servers in containers started by testcontainers-go.
package integration_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/omninode/omnibase-infra/tests/containers"
)

// control is the PostgreSQL server shared by the package; each test gets its own database on it.
var control *containers.Postgres

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var err error
	control, err = containers.StartPostgres(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "could not start the control PostgreSQL:", err)
		return 1
	}
	defer func() {
		if err := control.Terminate(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "could not terminate the control PostgreSQL:", err)
		}
	}()
	defer func() {
		if binDir != "" {
			_ = os.RemoveAll(binDir)
		}
	}()
	return m.Run()
}

var (
	buildOnce sync.Once
	binDir    string
	binErr    error
)

// omniBinary builds cmd/omni once per test run, as `make build` does, and returns its path.
func omniBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "omni-bin-"); binErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "omni"), "../../cmd/omni").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %w: %s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "omni")
}

func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

// tWriter sends log lines to the test's log, so they show with the test that wrote them.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

package integration_test

import (
	"bytes"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/tests/containers"
)

// omniProcess is `omni run --roles=...` as a process of its own, so that it can be sent signals.
type omniProcess struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	exited chan struct{}
}

// startOmniProcess runs omni with roles against url and brokers until the test ends (it is killed
// then if it still runs).
func startOmniProcess(t *testing.T, url string, brokers []string, roles string, args ...string) *omniProcess {
	t.Helper()
	return startOmniProcessEnv(t, nil, url, brokers, roles, args...)
}

// startOmniProcessEnv is startOmniProcess with env added to the process's environment.
func startOmniProcessEnv(t *testing.T, env []string, url string, brokers []string, roles string, args ...string) *omniProcess {
	t.Helper()
	port, err := containers.FreePort()
	require.NoError(t, err)
	p := &omniProcess{addr: "127.0.0.1:" + strconv.Itoa(port), stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(omniBinary(t), append([]string{"run", "--roles=" + roles, "--skip-migrate", "--http-addr", p.addr}, args...)...)
	p.cmd.Env = append(append(cleanEnv(), "DATABASE_URL="+url, "KAFKA_BROKERS="+strings.Join(brokers, ",")), env...)
	p.cmd.Stderr = p.stderr
	require.NoError(t, p.cmd.Start())
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// ready waits until the process's /readyz answers 200.
func (p *omniProcess) ready(t *testing.T) {
	t.Helper()
	eventually(t, 60*time.Second, "omni ready at "+p.addr, func() (bool, string, error) {
		resp, err := http.Get("http://" + p.addr + "/readyz")
		if err != nil {
			return false, "", err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status, nil
	})
}

// syncBuffer is a bytes.Buffer that a process writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

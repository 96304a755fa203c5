// Package containers starts the suite's real servers — PostgreSQL, a Kafka-protocol broker,
// Consul and the project's own omni image — in containers with testcontainers-go, from the local
// images `make images` builds.
//
// Every container runs with host networking on ports found free, so an address stays the same
// across a stop and a start (a fault test restarts servers), and the omni container reaches the
// others at 127.0.0.1 as a process on the host would. Testcontainers' reaper cannot be pulled
// here: TESTCONTAINERS_RYUK_DISABLED=true, and every helper's caller terminates what it started,
// even when start-up failed.
package containers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"

	"github.com/omninode/omnibase-infra/tests/images"
)

// Server is a started container.
type Server struct {
	ctr *testcontainers.DockerContainer
}

// Terminate stops and removes the container. A nil Server is a no-op, so callers can defer it
// before checking the start-up error.
func (s *Server) Terminate(ctx context.Context) error {
	if s == nil || s.ctr == nil {
		return nil
	}
	return s.ctr.Terminate(ctx)
}

// Stop stops the container with its stop signal, killing it after 20 seconds.
func (s *Server) Stop(ctx context.Context) error {
	timeout := 20 * time.Second
	if err := s.ctr.Stop(ctx, &timeout); err != nil {
		return fmt.Errorf("could not stop container %s: %w", s.ctr.GetContainerID()[:12], err)
	}
	return nil
}

// Kill ends the container's process with SIGKILL: a crash, not a shutdown.
func (s *Server) Kill(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "docker", "kill", "--signal", "KILL", s.ctr.GetContainerID()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("could not kill container: %w: %s", err, out)
	}
	return nil
}

// Pause freezes the container's processes (docker pause): a server that hangs rather than one
// that is gone. Its listening sockets stay open, so the kernel still accepts connections and
// queues what clients send, but nothing is answered until Unpause.
func (s *Server) Pause(ctx context.Context) error {
	return s.docker(ctx, "pause")
}

// Unpause thaws a paused container: it answers what was queued meanwhile.
func (s *Server) Unpause(ctx context.Context) error {
	return s.docker(ctx, "unpause")
}

func (s *Server) docker(ctx context.Context, verb string) error {
	out, err := exec.CommandContext(ctx, "docker", verb, s.ctr.GetContainerID()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("could not %s container %s: %w: %s", verb, s.ctr.GetContainerID()[:12], err, out)
	}
	return nil
}

// Logs returns what the container has printed so far.
func (s *Server) Logs(ctx context.Context) (string, error) {
	r, err := s.ctr.Logs(ctx)
	if err != nil {
		return "", fmt.Errorf("could not read container logs: %w", err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return string(b), err
}

// start runs image with host networking. opts add the command, environment and wait strategy.
func start(ctx context.Context, image images.Image, opts ...testcontainers.ContainerCustomizer) (*Server, error) {
	root, err := images.ModuleRoot()
	if err != nil {
		return nil, err
	}
	ref, err := image.Ref(root)
	if err != nil {
		return nil, err
	}
	if exec.CommandContext(ctx, "docker", "image", "inspect", ref).Run() != nil {
		return nil, fmt.Errorf("image %s is missing (its recipe changed or it was never built): run `make images`", ref)
	}
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") != "true" {
		// The reaper's image cannot be pulled on these machines.
		if err := os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true"); err != nil {
			return nil, err
		}
	}
	opts = append([]testcontainers.ContainerCustomizer{
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) { hc.NetworkMode = "host" }),
	}, opts...)
	ctr, err := testcontainers.Run(ctx, ref, opts...)
	s := &Server{ctr: ctr}
	if err != nil {
		if ctr != nil {
			// The container is removed here: keep what it printed, it usually says why.
			if out, lerr := s.Logs(context.WithoutCancel(ctx)); lerr == nil && out != "" {
				err = fmt.Errorf("%w; its last output:\n%s", err, tail(out, 2000))
			}
			err = errors.Join(err, ctr.Terminate(context.WithoutCancel(ctx)))
		}
		return nil, fmt.Errorf("could not start %s: %w", ref, err)
	}
	return s, nil
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("could not find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// freePorts returns n distinct free ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("could not find a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// poll calls check every 200ms until it returns nil or ctx ends, returning the last error.
func poll(ctx context.Context, what string, check func(ctx context.Context) error) error {
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last: %w)", what, ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

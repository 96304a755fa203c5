package containers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Network is a Docker bridge network of the test's own: the containers on it reach each other by
// their aliases, as the services of a compose file reach each other by name. Unlike the other
// helpers of this package, which run on the host's network, a container on a Network is reached
// from the test only through the ports it exposes.
type Network struct {
	nw *testcontainers.DockerNetwork
}

// NewNetwork creates a network; Remove removes it.
func NewNetwork(ctx context.Context) (*Network, error) {
	nw, err := network.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("could not create a Docker network: %w", err)
	}
	return &Network{nw: nw}, nil
}

// Remove removes the network. A nil Network is a no-op.
func (n *Network) Remove(ctx context.Context) error {
	if n == nil || n.nw == nil {
		return nil
	}
	return n.nw.Remove(ctx)
}

// ServiceConfig is one container on a Network.
type ServiceConfig struct {
	// Ref of a local image, NAME:TAG. Required.
	Ref string
	// Aliases the other containers reach it by. Required.
	Aliases []string
	// Cmd and Env of its process.
	Cmd []string
	Env map[string]string
	// Files copied into the container before it starts (a compose file's bind mounts).
	Files []testcontainers.ContainerFile
	// ExposedPorts, "8081/tcp": each is published on a free port of the host.
	ExposedPorts []string
	// StopSignal, e.g. SIGINT; default the image's.
	StopSignal string
	// Wait says when it is ready. Required.
	Wait wait.Strategy
}

// Service is a container started on a Network.
type Service struct {
	*Server
}

// StartService starts a container on n and waits until cfg.Wait says it is ready.
func (n *Network) StartService(ctx context.Context, cfg ServiceConfig) (*Service, error) {
	if exec.CommandContext(ctx, "docker", "image", "inspect", cfg.Ref).Run() != nil {
		return nil, fmt.Errorf("image %s is missing (its recipe changed or it was never built): run `make images`", cfg.Ref)
	}
	if err := os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true"); err != nil { // the reaper cannot be pulled here
		return nil, err
	}
	opts := []testcontainers.ContainerCustomizer{
		network.WithNetwork(cfg.Aliases, n.nw),
		testcontainers.WithCmd(cfg.Cmd...),
		testcontainers.WithEnv(cfg.Env),
		testcontainers.WithWaitStrategy(cfg.Wait),
	}
	if len(cfg.Files) > 0 {
		opts = append(opts, testcontainers.WithFiles(cfg.Files...))
	}
	if len(cfg.ExposedPorts) > 0 {
		opts = append(opts, testcontainers.WithExposedPorts(cfg.ExposedPorts...))
	}
	if cfg.StopSignal != "" {
		opts = append(opts, testcontainers.WithConfigModifier(func(c *container.Config) { c.StopSignal = cfg.StopSignal }))
	}
	ctr, err := testcontainers.Run(ctx, cfg.Ref, opts...)
	s := &Server{ctr: ctr}
	if err != nil {
		if ctr != nil {
			if out, lerr := s.Logs(context.WithoutCancel(ctx)); lerr == nil && out != "" {
				err = fmt.Errorf("%w; its last output:\n%s", err, tail(out, 2000))
			}
			err = errors.Join(err, ctr.Terminate(context.WithoutCancel(ctx)))
		}
		return nil, fmt.Errorf("could not start %s as %v: %w", cfg.Ref, cfg.Aliases, err)
	}
	return &Service{Server: s}, nil
}

// Endpoint is the host's HOST:PORT that reaches the container's port ("8081/tcp"). It changes
// when the container starts again.
func (s *Service) Endpoint(ctx context.Context, port string) (string, error) {
	ep, err := s.ctr.PortEndpoint(ctx, port, "")
	if err != nil {
		return "", fmt.Errorf("could not find where port %s of container %s is published: %w", port, s.ctr.GetContainerID()[:12], err)
	}
	return ep, nil
}

// Start starts the stopped or killed container again and waits until it is ready, as its
// wait strategy says.
func (s *Service) Start(ctx context.Context) error {
	if err := s.ctr.Start(ctx); err != nil {
		return fmt.Errorf("could not start container %s again: %w", s.ctr.GetContainerID()[:12], err)
	}
	return nil
}

// ExitCode is the status the container's process exited with; an error while it runs.
func (s *Service) ExitCode(ctx context.Context) (int, error) {
	st, err := s.ctr.State(ctx)
	if err != nil {
		return 0, fmt.Errorf("could not read the state of container %s: %w", s.ctr.GetContainerID()[:12], err)
	}
	if st.Running {
		return 0, fmt.Errorf("container %s is still running", s.ctr.GetContainerID()[:12])
	}
	return st.ExitCode, nil
}

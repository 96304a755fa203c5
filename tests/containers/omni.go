package containers

import (
	"context"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/omninode/omnibase-infra/tests/images"
)

// OmniConfig is what the omni container runs.
type OmniConfig struct {
	// Args of the omni binary, e.g. run --roles=adapters. Required.
	Args []string
	// Env of the process, e.g. DATABASE_URL and KAFKA_BROKERS. Addresses at 127.0.0.1 reach the
	// other containers: all run on the host's network.
	Env map[string]string
}

// Omni is the project's own image running in a container.
type Omni struct {
	*Server
}

// StartOmni starts omni and waits until it says it is running.
func StartOmni(ctx context.Context, cfg OmniConfig) (*Omni, error) {
	env := map[string]string{"OMNI_SEAL_KEK": TestKEK} // the suite's test key unless told otherwise
	for k, v := range cfg.Env {
		env[k] = v
	}
	s, err := start(ctx, images.Omni,
		testcontainers.WithCmd(cfg.Args...),
		testcontainers.WithEnv(env),
		testcontainers.WithWaitStrategy(wait.ForLog("omni running").WithStartupTimeout(90*time.Second)),
	)
	if err != nil {
		return nil, err
	}
	return &Omni{Server: s}, nil
}

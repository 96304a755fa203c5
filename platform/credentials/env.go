package credentials

import (
	"context"
	"fmt"
	"os"
)

// EnvProvider reads env:NAME from the process's environment.
type EnvProvider struct {
	// LookupEnv reads the environment. Default os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Read returns the variable's value as the Password; an unset or empty variable is ErrNotFound.
func (p EnvProvider) Read(_ context.Context, ref Ref) (Secret, error) {
	lookup := p.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup(ref.Path)
	if !ok || v == "" {
		return Secret{}, fmt.Errorf("environment variable %s is not set or empty: %w", ref.Path, ErrNotFound)
	}
	return Secret{Password: v}, nil
}

// Package architecture_test holds the layering of the module to what ARCHITECTURE.md says: every
// package imports only packages of the layers below its own, so nothing below the composition
// root imports it or cmd/.
package architecture_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/omninode/omnibase-infra/"

// layers, from the bottom up. A package may import the packages of the layers below its own and
// none of its own layer or above. tests/ is above everything and is not listed.
var layers = [][]string{
	{"events", "migrations", "nodes/contract", "nodes/scaffold/names"},
	{"platform/tlspolicy"},
	{"platform/pgtx", "platform/bus", "platform/merkle", "platform/credentials", "platform/telemetry"},
	{"platform/consumer", "platform/seal", "platform/ratelimit"},
	{"outbox"},
	{"handlers/effect", "projections/infrastate", "audit"},
	{"handlers/postgres", "handlers/kafka", "handlers/consul", "handlers/effect/effecttest", "sagas"},
	{ // the nodes omni scaffold added: effect, compute, reducer and orchestrator packages
		// omni:scaffold:layers
	},
	{"internal/command", "internal/devpg", "internal/devkafka", "internal/poison", "nodes/readiness", "nodes/scaffold", "internal/fleet"},
	{"internal/console"},
	{"internal/app"},
	{"cmd/omni"},
}

func layerOf(pkg string) int {
	for i, l := range layers {
		if slices.Contains(l, pkg) {
			return i
		}
	}
	return -1
}

func TestLayers_every_package_imports_only_the_layers_below_it(t *testing.T) {
	// .Deps is every package a package depends on, directly or not.
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", module+"...").Output()
	require.NoError(t, err, "go list")
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		if strings.HasPrefix(pkg, "tests/") {
			continue
		}
		mine := layerOf(pkg)
		require.GreaterOrEqual(t, mine, 0, "package %s is in no layer: add it to ARCHITECTURE.md and to layers here", pkg)
		seen++
		for _, d := range fields[1:] {
			if dep, ok := strings.CutPrefix(d, module); ok {
				require.Less(t, layerOf(dep), mine, "%s (layer %d) depends on %s (layer %d): imports must run down",
					pkg, mine, dep, layerOf(dep))
			}
		}
	}
	require.Equal(t, len(slices.Concat(layers...)), seen, "every layer's package exists")
}

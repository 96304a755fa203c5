package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/internal/app"
)

// version is omni's release, set by the build: go build -ldflags "-X main.version=v1.2.0"
// (the Makefile passes what git describe says). Empty: "dev".
var version string

// revision is the commit built, set by the build (-X main.revision=…) where the toolchain's own
// record of it is missing (a git worktree, a tarball).
var revision string

// buildInfo is which omni this is: the version the build set, and the commit and toolchain the
// Go toolchain recorded in the binary.
func buildInfo() app.BuildInfo {
	b := app.BuildInfo{Version: version, Revision: revision, GoVersion: runtime.Version()}
	if b.Version == "" {
		b.Version = "dev"
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			if b.Revision == "" {
				b.Revision = s.Value
			}
		case "vcs.time":
			b.BuiltAt = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && b.Revision != "" && revision == "" {
		b.Revision += "-dirty"
	}
	if b.Version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		b.Version = info.Main.Version // go install …@v1.2.0
	}
	return b
}

func newVersionCmd() *cobra.Command {
	var o output
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print omni's version, the commit it was built from and its Go toolchain",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := buildInfo()
			return o.print(cmd.OutOrStdout(), b, nil, func(w io.Writer, _ bool) error {
				fmt.Fprintf(w, "omni %s\n  revision  %s\n  built     %s\n  go        %s\n", b.Version, orDash(b.Revision), orDash(b.BuiltAt), b.GoVersion)
				return nil
			})
		},
	}
	addOutput(cmd, &o)
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

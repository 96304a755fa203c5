package main

import (
	"strings"

	"github.com/spf13/pflag"

	"github.com/omninode/omnibase-infra/internal/app"
	// omni:scaffold:imports
)

// registerNodeFlags binds the flags of the nodes omni scaffold added to c's fields: one
// repeatable --<node>-target NAME=ADDR per effect node (also OMNI_<NODE>_TARGET, as every flag).
// The lines between the markers are written by omni scaffold.
func registerNodeFlags(f *pflag.FlagSet, c *app.NodesConfig) {
	// omni:scaffold:flags
}

// targetsFlag is a repeatable NAME=ADDR flag whose every value parse turns into a target
// appended to *targets.
type targetsFlag[T any] struct {
	targets *[]T
	parse   func(string) (T, error)
	given   []string
}

func newTargetsFlag[T any](targets *[]T, parse func(string) (T, error)) *targetsFlag[T] {
	return &targetsFlag[T]{targets: targets, parse: parse}
}

func (f *targetsFlag[T]) Set(s string) error {
	t, err := f.parse(s)
	if err != nil {
		return err
	}
	*f.targets = append(*f.targets, t)
	f.given = append(f.given, s)
	return nil
}

// String is "" while no target is given, so help shows no default.
func (f *targetsFlag[T]) String() string {
	if len(f.given) == 0 {
		return ""
	}
	return "[" + strings.Join(f.given, ",") + "]"
}

// Type is stringArray, as the other target flags'.
func (f *targetsFlag[T]) Type() string { return "stringArray" }

// Append, Replace and GetSlice make it a pflag.SliceValue: a repeatable flag, which the
// environment and --config give as a list.
func (f *targetsFlag[T]) Append(s string) error { return f.Set(s) }

func (f *targetsFlag[T]) Replace(values []string) error {
	*f.targets, f.given = nil, nil
	for _, v := range values {
		if err := f.Set(v); err != nil {
			return err
		}
	}
	return nil
}

func (f *targetsFlag[T]) GetSlice() []string { return append([]string(nil), f.given...) }

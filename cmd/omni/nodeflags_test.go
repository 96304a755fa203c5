package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

type testTarget struct{ Name, Addr string }

func parseTestTarget(s string) (testTarget, error) {
	name, addr, ok := strings.Cut(s, "=")
	if !ok {
		return testTarget{}, fmt.Errorf("target %q: want NAME=ADDR", s)
	}
	return testTarget{name, addr}, nil
}

// A scaffolded effect node's --<name>-target: repeatable on the command line, a list in its
// variable, refused with the parser's reason.
func TestTargetsFlag_is_a_repeatable_flag_read_from_its_variable_too(t *testing.T) {
	newSet := func(targets *[]testTarget) *pflag.FlagSet {
		f := pflag.NewFlagSet("run", pflag.ContinueOnError)
		f.Var(newTargetsFlag(targets, parseTestTarget), "thing-target", "thing target, NAME=ADDR")
		bindEnv(f, nil)
		return f
	}

	var fromFlags []testTarget
	f := newSet(&fromFlags)
	require.Equal(t, "", f.Lookup("thing-target").Value.String(), "no default shown")
	require.NoError(t, f.Parse([]string{"--thing-target", "a=1", "--thing-target", "b=2"}))
	require.Equal(t, []testTarget{{"a", "1"}, {"b", "2"}}, fromFlags)
	require.Equal(t, "[a=1,b=2]", f.Lookup("thing-target").Value.String())
	require.Equal(t, "stringArray", f.Lookup("thing-target").Value.Type())

	var fromEnv []testTarget
	f = newSet(&fromEnv)
	require.NoError(t, applyEnv(f, func(name string) (string, bool) {
		return map[string]string{"OMNI_THING_TARGET": "a=1;b=2"}[name], name == "OMNI_THING_TARGET"
	}))
	require.Equal(t, []testTarget{{"a", "1"}, {"b", "2"}}, fromEnv)

	s, ok := f.Lookup("thing-target").Value.(pflag.SliceValue)
	require.True(t, ok)
	require.NoError(t, s.Replace([]string{"c=3"}))
	require.Equal(t, []testTarget{{"c", "3"}}, fromEnv)
	require.Equal(t, []string{"c=3"}, s.GetSlice())
	require.NoError(t, s.Append("d=4"))
	require.Equal(t, []string{"c=3", "d=4"}, s.GetSlice())

	err := newSet(new([]testTarget)).Parse([]string{"--thing-target", "nameless"})
	require.ErrorContains(t, err, `target "nameless": want NAME=ADDR`)
}

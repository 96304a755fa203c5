package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

// envAnnotation holds, on a flag, the environment variable that may give its value.
const envAnnotation = "omni-env"

// bindEnv lets every visible flag of fs be given by an environment variable: the one names maps
// its name to, or else OMNI_ and its name upper-cased with '-' as '_' (--probe-interval is
// OMNI_PROBE_INTERVAL). The flag's usage names the variable; the default it shows stays the
// flag's own and never the variable's value, which may be a secret. Call it once the flags are
// registered; applyEnv sets them.
func bindEnv(fs *pflag.FlagSet, names map[string]string) {
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		name := names[f.Name]
		if name == "" {
			name = "OMNI_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		}
		if f.Annotations == nil {
			f.Annotations = map[string][]string{}
		}
		f.Annotations[envAnnotation] = []string{name}
		if _, repeatable := f.Value.(pflag.SliceValue); repeatable {
			f.Usage += " (env " + name + ", values separated by ';' or newlines)"
		} else {
			f.Usage += " (env " + name + ")"
		}
	})
}

// splitList splits the variable of a repeatable flag into its values: they are separated by ';'
// or newlines, since a value may hold commas (a Kafka target's brokers). Empty values are
// dropped.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '\n' }) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// applyEnv sets every flag of fs that bindEnv bound and the command line did not give from its
// variable, when that is set and not empty: a flag on the command line wins. A value the flag
// refuses is an error naming the variable.
func applyEnv(fs *pflag.FlagSet, lookup func(string) (string, bool)) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		names := f.Annotations[envAnnotation]
		if len(names) == 0 || f.Changed {
			return
		}
		v, ok := lookup(names[0])
		if !ok || v == "" {
			return
		}
		values := []string{v}
		if _, repeatable := f.Value.(pflag.SliceValue); repeatable {
			values = splitList(v)
		}
		for _, item := range values {
			if err := f.Value.Set(item); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w (for --%s)", names[0], v, err, f.Name))
				return
			}
		}
		f.Changed = true
	})
	return errors.Join(errs...)
}

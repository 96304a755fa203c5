package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/internal/app"
)

// omni's exit codes: distinct, so a script can tell a failed operation from a mistake in how it
// was called and from a system that is down. The README's CLI section documents them.
const (
	// exitOK: the command did what it was asked.
	exitOK = 0
	// exitFailed: the operation was tried and failed — a command failed or was rejected, a verify
	// found differences, nothing matched what was asked for.
	exitFailed = 1
	// exitUsage: the command line or the configuration is wrong (an unknown command, flag or
	// value, a missing setting, a target that is not configured); nothing was tried.
	exitUsage = 2
	// exitUnreachable: a system the command needs (the control database, the brokers, Consul)
	// could not be reached.
	exitUnreachable = 3
)

// exitError is an error with the exit code it ends omni with.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withCode gives err the exit code code (nil stays nil).
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// usageError is a mistake in how omni was called: exit code 2.
func usageError(format string, args ...any) error {
	return withCode(exitUsage, fmt.Errorf(format, args...))
}

// unreachable marks err as a system that could not be reached: exit code 3.
func unreachable(err error) error { return withCode(exitUnreachable, err) }

// exitCode is the exit code err ends omni with: the one it was given, else the kind internal/app
// marked it with, else 2 for cobra's own usage errors, else 1.
func exitCode(err error) int {
	var e *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &e):
		return e.code
	case errors.Is(err, app.ErrUnreachable):
		return exitUnreachable
	case errors.Is(err, app.ErrInvalidConfig):
		return exitUsage
	case isCobraUsage(err):
		return exitUsage
	}
	return exitFailed
}

// isCobraUsage recognises the errors cobra makes itself (it has no types for them): an unknown
// command or a required flag not given. Flag and argument errors are wrapped by markUsage.
func isCobraUsage(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command ") || strings.HasPrefix(msg, "required flag(s) ")
}

// markUsage makes every flag error and every argument-count error of cmd and its subcommands a
// usage error (exit code 2).
func markUsage(cmd *cobra.Command) {
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withCode(exitUsage, err) })
	if args := cmd.Args; args != nil {
		cmd.Args = func(c *cobra.Command, a []string) error { return withCode(exitUsage, args(c, a)) }
	}
	for _, sub := range cmd.Commands() {
		markUsage(sub)
	}
}

// errorText renders err for the one "omni: …" message on standard error. Usage errors are
// cobra's text as it is (its "Did you mean this?" suggestions included). Otherwise each line is
// a problem of its own, and they are joined with "; " on one line; a line that starts with
// white space continues the one before it (pgx's "failed to connect to …:" and the addresses it
// tried), so it is joined with a space, not cut into problems of its own.
func errorText(err error) string {
	msg := strings.TrimRight(err.Error(), "\n")
	if exitCode(err) == exitUsage && strings.Contains(msg, "\n\n") {
		return msg
	}
	var problems []string
	for _, line := range strings.Split(msg, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
		case len(problems) > 0 && line != strings.TrimLeft(line, " \t"):
			problems[len(problems)-1] += " " + trimmed
		default:
			problems = append(problems, trimmed)
		}
	}
	return strings.Join(problems, "; ")
}

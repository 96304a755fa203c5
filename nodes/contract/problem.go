package contract

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a contract, where it is.
type Problem struct {
	File    string
	Line    int
	Message string
}

// Error is "file:line: message".
func (p Problem) Error() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message) }

// Problems are every problem found, in file and line order as found. As an error it prints one
// per line.
type Problems []Problem

// Error joins the problems, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Err is nil when there are no problems, else the problems.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

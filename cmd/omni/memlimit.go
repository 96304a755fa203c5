package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// defaultMemoryLimit is the Go runtime's soft memory limit of an omni process unless GOMEMLIMIT
// or --memory-limit says otherwise: with it the garbage collector keeps the heap near what the
// process needs rather than letting it grow to twice its live size, which keeps one process with
// every role under 64 MB resident at 5,000 events/s (make bench, rss_mb). It is soft: a process
// that needs more gets more, at the cost of collecting more often.
const defaultMemoryLimit = "40MiB"

// setMemoryLimit applies limit (a size as GOMEMLIMIT writes it: 40MiB, 1GiB, 500000000; "off" for
// none), unless GOMEMLIMIT is set, which the runtime has applied already.
func setMemoryLimit(limit string) error {
	if os.Getenv("GOMEMLIMIT") != "" {
		return nil
	}
	if limit == "off" {
		return nil
	}
	n, err := parseSize(limit)
	if err != nil {
		return fmt.Errorf("--memory-limit %q: %w", limit, err)
	}
	debug.SetMemoryLimit(n)
	return nil
}

// parseSize reads a byte count with an optional B, KiB, MiB or GiB suffix.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		factor int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	factor := int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, factor = rest, u.factor
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("want a positive size such as 40MiB or 1GiB")
	}
	return n * factor, nil
}

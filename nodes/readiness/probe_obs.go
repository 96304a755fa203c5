package readiness

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func probeLogs(s *subject) []Finding {
	p, ok := s.importedBy("log/slog", codeDirs(s.c)...)
	if !ok {
		return []Finding{fail(s.at("package"), "log with the *slog.Logger the node's New takes", "the node's code does not log with log/slog")}
	}
	for _, d := range codeDirs(s.c) {
		for _, src := range sources(s.cfg.Root, d) {
			if bytes.Contains(src, []byte(`"correlation_id"`)) {
				return []Finding{pass(p.String(), "logs with log/slog, lines with correlation_id")}
			}
		}
	}
	return []Finding{fail(p.String(), `add "correlation_id" (and "causation_id") from the message's envelope to the node's logger`,
		"the node's log lines carry no correlation id")}
}

func probeMetrics(s *subject) []Finding {
	if len(s.c.Metrics) == 0 {
		return []Finding{fail(s.at("metrics"), "export the node's Prometheus metrics and name them under metrics: in "+s.file,
			"the contract names no metrics")}
	}
	var fs []Finding
	for i, m := range s.c.Metrics {
		if loc, ok := literalIn(s.cfg.Root, m); ok {
			fs = append(fs, pass(loc, "%s registered", m))
		} else {
			fs = append(fs, fail(s.at("metrics", i), "register "+m+" (prometheus.New…{Name: \""+m+"\"}) or drop it from the contract",
				"metric %s is registered nowhere in the code", m))
		}
	}
	return fs
}

// literalIn is the first non-test Go file of the module (tests/ left out) that holds the string
// literal "s".
func literalIn(root, s string) (string, bool) {
	needle := []byte(`"` + s + `"`)
	found := ""
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || found != "" {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || rel == "tests" || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		if i := bytes.Index(src, needle); i >= 0 {
			found = rel + ":" + strconv.Itoa(1+bytes.Count(src[:i], []byte("\n")))
			return filepath.SkipAll
		}
		return nil
	})
	return found, found != ""
}

// ConsumerDir is the one error policy every handler of every node runs through (router
// middleware and the batch consumer): spans it makes per message are the node's too.
const ConsumerDir = "platform/consumer"

func probeTraces(s *subject) []Finding {
	for _, path := range []string{TelemetryPackage, OTelPackage} {
		if p, ok := s.importedBy(path, append(codeDirs(s.c), ConsumerDir)...); ok {
			return []Finding{pass(p.String(), "makes trace spans (imports %s)", path)}
		}
	}
	return []Finding{fail(s.at("package"), "start a span per message handled with "+TelemetryPackage+" (trace context travels in the message metadata)",
		"the node's code makes no trace spans: neither it nor %s imports %s or %s", ConsumerDir, TelemetryPackage, OTelPackage)}
}

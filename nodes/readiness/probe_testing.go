package readiness

import (
	"bufio"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/omninode/omnibase-infra/nodes/contract"
)

// IntegrationDir holds the tests against real systems (the suite's containers).
const IntegrationDir = "tests/integration"

var testFunc = regexp.MustCompile(`(?m)^func Test[A-Z_]`)

// testFiles are the _test.go files of dir, parsed for their imports.
func testFiles(root, dir string) (map[string][]string, *token.FileSet) {
	out := map[string][]string{}
	fset := token.NewFileSet()
	entries, err := os.ReadDir(filepath.Join(root, dir))
	if err != nil {
		return out, fset
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		rel := filepath.ToSlash(filepath.Join(dir, e.Name()))
		f, err := parser.ParseFile(fset, rel, readFile(filepath.Join(root, rel)), parser.ImportsOnly)
		if err != nil {
			continue
		}
		var ims []string
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			ims = append(ims, p)
		}
		out[rel] = ims
	}
	return out, fset
}

func probeUnitTests(s *subject) []Finding {
	files, _ := testFiles(s.cfg.Root, s.c.Package)
	for _, name := range sortedNames(files) {
		src := readFile(filepath.Join(s.cfg.Root, name))
		if loc := testFunc.FindIndex(src); loc != nil {
			line := 1 + strings.Count(string(src[:loc[0]]), "\n")
			return []Finding{pass(fmt.Sprintf("%s:%d", name, line), "%d test files in %s", len(files), s.c.Package)}
		}
	}
	return []Finding{fail(s.at("package"), "write tests of the package's logic in "+s.c.Package+"/*_test.go (package "+filepath.Base(s.c.Package)+"_test)",
		"package %s has no tests", s.c.Package)}
}

func probeIntegrationTests(s *subject) []Finding {
	files, _ := testFiles(s.cfg.Root, IntegrationDir)
	path := ModulePath + "/" + s.c.Package
	for _, name := range sortedNames(files) {
		for _, im := range files[name] {
			if im == path {
				return []Finding{pass(name+":1", "%s tests it against the suite's containers", name)}
			}
		}
	}
	return []Finding{fail(s.at("package"), "write a test in "+IntegrationDir+" that runs the node against the suite's containers (tests/containers)",
		"no test in %s imports %s", IntegrationDir, path)}
}

func probeDriverSuite(s *subject) []Finding {
	if s.c.Kind != contract.Effect {
		return []Finding{skip(s.at("kind"), "only effect nodes have drivers")}
	}
	path := ModulePath + "/" + s.c.Package
	for _, dir := range []string{s.c.Package, IntegrationDir} {
		files, _ := testFiles(s.cfg.Root, dir)
		for _, name := range sortedNames(files) {
			suite, node := false, dir == s.c.Package
			for _, im := range files[name] {
				suite = suite || im == DriverSuitePackage
				node = node || im == path
			}
			if suite && node {
				return []Finding{pass(name+":1", "runs the driver contract suite")}
			}
		}
	}
	return []Finding{fail(s.at("package"), "run effecttest.Run against the driver (see tests/integration/driver_contract_test.go)",
		"no test runs %s's driver through %s", s.c.Package, DriverSuitePackage)}
}

func probeCoverage(s *subject) []Finding {
	if s.cfg.CoverProfile == "" {
		return []Finding{skip(s.at("package"), "no coverage profile given (--coverprofile)")}
	}
	f, err := os.Open(s.cfg.CoverProfile)
	if err != nil {
		return []Finding{fail(s.cfg.CoverProfile+":1", "write one with go test -coverprofile", "could not read the coverage profile: %v", err)}
	}
	defer f.Close()
	prefix := ModulePath + "/" + s.c.Package + "/"
	var total, covered int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// name.go:line.col,line.col statements count
		line := sc.Text()
		file, rest, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(file, prefix) || strings.Contains(strings.TrimPrefix(file, prefix), "/") {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 3 {
			continue
		}
		n, _ := strconv.Atoi(fields[1])
		c, _ := strconv.Atoi(fields[2])
		total += n
		if c > 0 {
			covered += n
		}
	}
	if total == 0 {
		return []Finding{fail(s.cfg.CoverProfile+":1", "go test -coverprofile with the package "+s.c.Package+" among those tested",
			"the profile covers nothing of %s", s.c.Package)}
	}
	pct := 100 * float64(covered) / float64(total)
	if pct < s.cfg.MinCoverage {
		return []Finding{fail(s.cfg.CoverProfile+":1", fmt.Sprintf("test more of %s: at least %g%% of its statements", s.c.Package, s.cfg.MinCoverage),
			"%s: %.1f%% of statements covered, below %g%%", s.c.Package, pct, s.cfg.MinCoverage)}
	}
	return []Finding{pass(s.cfg.CoverProfile+":1", "%s: %.1f%% of statements covered", s.c.Package, pct)}
}

func sortedNames(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

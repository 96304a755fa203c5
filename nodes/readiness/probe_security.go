package readiness

import (
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/omninode/omnibase-infra/nodes/contract"
)

var (
	// secretFlag names a flag that carries a secret.
	secretFlag = regexp.MustCompile(`(password|passwd|secret|token|key|credential|passphrase)`)
	// referenceFlag names a flag that takes a secret by reference: a file, or a credentials
	// reference (env:, file:, vault-kv:, vault-db:).
	referenceFlag = regexp.MustCompile(`(-file|-credentials|-ref)$`)
	// secretFields are JSON field names of message types that carry what must not travel in
	// clear: statement arguments, values, payloads and headers, results, passwords.
	secretFields = []string{"password", "secret", "token", "args", "value", "payload", "headers", "result", "credentials", "private_key"}
)

func probePlainSecrets(s *subject) []Finding {
	var fs []Finding
	for i, st := range s.c.Configuration {
		name := strings.TrimLeft(st.Flag, "-")
		if secretFlag.MatchString(name) && !referenceFlag.MatchString(name) {
			fs = append(fs, fail(s.at("configuration", i, "flag"),
				"take the secret from a file (--"+name+"-file) or a credentials reference (env:, file:, vault-kv:, vault-db:)",
				"flag %s takes a secret in plain configuration", st.Flag))
		}
	}
	if len(fs) == 0 {
		fs = append(fs, pass(s.at("configuration"), "no flag of the %d takes a secret in plain text", len(s.c.Configuration)))
	}
	return fs
}

func probeTLSVerified(s *subject) []Finding {
	var fs []Finding
	for _, dir := range codeDirs(s.c) {
		fset, files, err := parseDir(s.cfg.Root, dir, parser.SkipObjectResolution)
		if err != nil {
			continue
		}
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				at := func(p token.Pos) string { return Pos{fset.Position(p).Filename, fset.Position(p).Line}.String() }
				const remedy = "verify certificates: take the TLS configuration from the one TLS policy and drop the override"
				switch n := n.(type) {
				case *ast.KeyValueExpr:
					if isIdent(n.Key, "InsecureSkipVerify") && isIdent(n.Value, "true") {
						fs = append(fs, fail(at(n.Pos()), remedy, "InsecureSkipVerify: true turns certificate verification off"))
					}
				case *ast.AssignStmt:
					for i, l := range n.Lhs {
						if sel, ok := l.(*ast.SelectorExpr); ok && sel.Sel.Name == "InsecureSkipVerify" && i < len(n.Rhs) && isIdent(n.Rhs[i], "true") {
							fs = append(fs, fail(at(n.Pos()), remedy, "InsecureSkipVerify = true turns certificate verification off"))
						}
					}
				case *ast.BasicLit:
					if v, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING && strings.Contains(v, "sslmode=disable") {
						fs = append(fs, fail(at(n.Pos()), "connect with sslmode=verify-full (or as the TLS policy says)", "a connection string turns TLS off (sslmode=disable)"))
					}
				}
				return true
			})
		}
	}
	if len(fs) == 0 {
		fs = append(fs, pass(s.at("package"), "no connection in %s turns certificate verification off", strings.Join(codeDirs(s.c), ", ")))
	}
	return fs
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

func probeSensitive(s *subject) []Finding {
	if s.catErr != nil {
		return []Finding{fail(EventsDir+":1", "make the events package parse", "could not read the message catalog: %v", s.catErr)}
	}
	refs := map[contract.MessageRef]string{}
	for i, cmd := range s.c.Commands {
		refs[cmd.Ref()] = s.at("commands", i)
	}
	for _, key := range []string{"consumes", "produces"} {
		streams := s.c.Consumes
		if key == "produces" {
			streams = s.c.Produces
		}
		for i, st := range streams {
			for j, m := range st.Messages {
				if _, ok := refs[m]; !ok {
					refs[m] = s.at(key, i, "messages", j)
				}
			}
		}
	}
	var fs []Finding
	sealed := 0
	for _, ref := range sortedKeys(refs) {
		name := s.cat.GoName(ref)
		if name == "" {
			continue
		}
		var secret []string
		for _, f := range s.cat.Fields[name] {
			if slices.Contains(secretFields, f) {
				secret = append(secret, f)
			}
		}
		switch {
		case len(secret) == 0:
		case s.cat.Sensitive[name]:
			sealed++
		default:
			fs = append(fs, fail(s.cat.Pos[name].String(),
				"declare func ("+name+") SensitiveFields() []string naming "+strings.Join(secret, ", ")+" in events/sensitive.go",
				"%s (%s, listed at %s) carries %s in clear: it declares no sensitive fields", ref, name, refs[ref], strings.Join(secret, ", ")))
		}
	}
	if len(fs) == 0 {
		fs = append(fs, pass(s.at(), "%d of its %d message types carry secrets, and seal them", sealed, len(refs)))
	}
	return fs
}

func sortedKeys(m map[contract.MessageRef]string) []contract.MessageRef {
	out := make([]contract.MessageRef, 0, len(m))
	for r := range m {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b contract.MessageRef) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// importedBy is the first of dirs whose code imports path.
func (s *subject) importedBy(path string, dirs ...string) (Pos, bool) {
	for _, d := range dirs {
		if p, ok := imports(s.cfg.Root, d, path); ok {
			return p, true
		}
	}
	return Pos{}, false
}

func probeAudit(s *subject) []Finding {
	switch s.c.Kind {
	case contract.Reducer, contract.Compute:
		return []Finding{skip(s.at("kind"), "a %s node acts on nothing outside: its refusals are security events through the consumer policy's poison hook", s.c.Kind)}
	}
	if p, ok := s.importedBy(AuditPackage, codeDirs(s.c)...); ok {
		return []Finding{pass(p.String(), "appends to the audit log (imports %s)", AuditPackage)}
	}
	// The effect runner cannot import audit (it is above it): it takes a hook, Config.Audit,
	// which the composition root fills from package audit.
	if p, ok := auditHook(s.cfg.Root, codeDirs(s.c)); ok && wiresAudit(s.cfg.Root) {
		return []Finding{pass(p.String(), "takes the audit hook (Config.Audit), which %s fills from package audit", WiringDir)}
	}
	return []Finding{fail(s.at("package"), "append what the node does to the audit log: import "+AuditPackage+
		", or take an Audit func in its Config and set it in "+WiringDir, "nothing the node does reaches the audit log")}
}

// auditHook is where a Config struct of dirs has a field named Audit.
func auditHook(root string, dirs []string) (Pos, bool) {
	for _, d := range dirs {
		fset, files, err := parseDir(root, d, parser.SkipObjectResolution)
		if err != nil {
			continue
		}
		for _, f := range files {
			for _, decl := range f.Decls {
				g, ok := decl.(*ast.GenDecl)
				if !ok {
					continue
				}
				for _, sp := range g.Specs {
					ts, ok := sp.(*ast.TypeSpec)
					if !ok || ts.Name.Name != "Config" {
						continue
					}
					st, ok := ts.Type.(*ast.StructType)
					if !ok {
						continue
					}
					for _, fl := range st.Fields.List {
						for _, n := range fl.Names {
							if n.Name == "Audit" {
								p := fset.Position(n.Pos())
								return Pos{p.Filename, p.Line}, true
							}
						}
					}
				}
			}
		}
	}
	return Pos{}, false
}

var auditAssign = regexp.MustCompile(`\.Audit\s*=\s*audit\.|Audit:\s*audit\.`)

func wiresAudit(root string) bool {
	for _, src := range sources(root, WiringDir) {
		if auditAssign.Match(src) {
			return true
		}
	}
	return false
}

func probeTLSPolicy(s *subject) []Finding {
	dirs := codeDirs(s.c)
	where := "its package"
	if s.c.Kind != contract.Effect {
		// The reducer's and the orchestrator's connections (the control database, the bus) are
		// made by the composition root and platform/bus.
		dirs = append(dirs, WiringDir, "platform/bus")
		where = "its package, " + WiringDir + " or platform/bus"
	}
	if s.c.Kind == contract.Compute {
		return []Finding{skip(s.at("kind"), "a compute node makes no connections")}
	}
	if p, ok := s.importedBy(TLSPolicyPackage, dirs...); ok {
		return []Finding{pass(p.String(), "its connections take the TLS policy")}
	}
	// Or through a package of the module that its own package imports to connect (the Kafka
	// adapter's clients are platform/bus's, configured by the policy there).
	for _, dep := range moduleImports(s.cfg.Root, s.c.Package) {
		if p, ok := imports(s.cfg.Root, dep, TLSPolicyPackage); ok {
			return []Finding{pass(p.String(), "its connections take the TLS policy through %s", dep)}
		}
	}
	return []Finding{fail(s.at("dependencies", "systems"), "build the TLS configuration of its connections with "+TLSPolicyPackage,
		"no connection of the node takes the one TLS policy: %s does not import %s", where, TLSPolicyPackage)}
}

func probeRateLimits(s *subject) []Finding {
	if s.c.Kind != contract.Effect || len(s.c.Commands) == 0 {
		return []Finding{skip(s.at("kind"), "takes no commands from clients")}
	}
	dirs := append(codeDirs(s.c), WiringDir, "internal/command")
	if p, ok := s.importedBy(RateLimitPackage, dirs...); ok {
		return []Finding{pass(p.String(), "its commands are rate-limited")}
	}
	return []Finding{fail(s.at("commands"), "limit the rate of its commands per client with "+RateLimitPackage,
		"nothing limits the rate of its %d commands: neither it, its runner, %s nor internal/command imports %s",
		len(s.c.Commands), WiringDir, RateLimitPackage)}
}

// moduleImports are the package directories of the module that the non-test files of dir import.
func moduleImports(root, dir string) []string {
	_, files, err := parseDir(root, dir, parser.ImportsOnly)
	if err != nil {
		return nil
	}
	var out []string
	for _, f := range files {
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if rel, ok := strings.CutPrefix(p, ModulePath+"/"); ok && !slices.Contains(out, rel) {
				out = append(out, rel)
			}
		}
	}
	slices.Sort(out)
	return out
}

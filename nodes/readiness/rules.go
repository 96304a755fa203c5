package readiness

import "github.com/omninode/omnibase-infra/nodes/contract"

// Rule is one thing a node must do to hold a level.
type Rule struct {
	// ID is "<dimension>.<rule>", the id a contract's exemption names.
	ID string
	// Level is the lowest level that needs the rule.
	Level Level
	// Doc says what the rule asks, in a line.
	Doc   string
	probe func(*subject) []Finding
}

// Dimension is the rule's dimension.
func (r Rule) Dimension() string { return dimensionOf(r.ID) }

// Dimensions lists the dimensions, in report order.
func Dimensions() []string { return contract.Dimensions() }

// Import paths the probes look for, added by other parts of the system: a probe starts passing
// once its package is imported.
const (
	// TLSPolicyPackage is the one TLS policy of every connection.
	TLSPolicyPackage = ModulePath + "/platform/tlspolicy"
	// RateLimitPackage is the rate limits per client and endpoint.
	RateLimitPackage = ModulePath + "/platform/ratelimit"
	// TelemetryPackage is the module's tracing; importing OpenTelemetry's trace API directly
	// (OTelPackage) counts too.
	TelemetryPackage = ModulePath + "/platform/telemetry"
	// OTelPackage is OpenTelemetry's API.
	OTelPackage = "go.opentelemetry.io/otel"
	// AuditPackage is the audit log.
	AuditPackage = ModulePath + "/audit"
	// DriverSuitePackage is the contract suite every effect driver runs.
	DriverSuitePackage = ModulePath + "/handlers/effect/effecttest"
	// WiringDir is the composition root, which makes the connections of the nodes that do not
	// make their own (the reducer's and the orchestrator's control database and bus).
	WiringDir = "internal/app"
)

// Rules are every rule, by dimension and level. README.md's "Nodes: contracts and readiness"
// shows them as a table; tests/nodes holds the table to this list.
func Rules() []Rule {
	return []Rule{
		{"contract.exists", Development, "the node's package has a node.yaml", probeExists},
		{"contract.validates", Development, "the contract validates, alone and beside the other nodes' (names, dependencies, package, workflows, exemptions' rules)", probeValidates},
		{"contract.matches_code", Development, "the commands, the messages consumed and produced and the flags are those of the code", probeMatchesCode},

		{"security.no_plain_secrets", Development, "no configuration entry takes a secret in plain text: a secret is a *-file or a credentials reference", probePlainSecrets},
		{"security.tls_verified", Staging, "no connection of the node's code turns certificate verification off (InsecureSkipVerify, sslmode=disable)", probeTLSVerified},
		{"security.sensitive_encrypted", Staging, "every message the node takes or emits with secret fields declares them (events.Sensitive), so they are sealed", probeSensitive},
		{"security.audit_wired", Staging, "what the node does is in the audit log: its code appends to it, or takes the audit hook the composition root fills", probeAudit},
		{"security.tls_policy", Production, "the node's connections take the one TLS policy (" + TLSPolicyPackage + ")", probeTLSPolicy},
		{"security.rate_limits", Production, "a node that takes commands from clients limits their rate (" + RateLimitPackage + ")", probeRateLimits},

		{"performance.targets_declared", Staging, "the contract ties the node to benchmark figures", probeTargetsDeclared},
		{"performance.figures_exist", Staging, "bench-results.json holds every figure the contract names", probeFiguresExist},
		{"performance.figures_fresh", Production, "the figures were measured at the current commit", probeFiguresFresh},
		{"performance.targets_met", Production, "every figure meets its target", probeTargetsMet},

		{"documentation.readme_section", Staging, "README.md has the section the contract names", probeReadmeSection},
		{"documentation.command_examples", Staging, "every command has its example in README.md", probeCommandExamples},
		{"documentation.doc_comments", Production, "every exported name of the package has a doc comment", probeDocComments},

		{"testing.unit_tests", Development, "the package has tests of its own", probeUnitTests},
		{"testing.integration_tests", Staging, "tests/integration tests the node against real systems", probeIntegrationTests},
		{"testing.driver_suite", Staging, "an effect node's driver runs the shared driver contract suite (effecttest)", probeDriverSuite},
		{"testing.coverage", Production, "the package's statement coverage in --coverprofile reaches the minimum", probeCoverage},

		{"observability.structured_logs", Staging, "the node logs with log/slog and its lines carry the correlation id", probeLogs},
		{"observability.metrics_registered", Staging, "the contract names the node's metrics and each is registered in the code", probeMetrics},
		{"observability.trace_spans", Production, "the node's code, or the consumer policy its handlers run through, makes trace spans (" + TelemetryPackage + " or OpenTelemetry)", probeTraces},
	}
}

// RuleIDs lists every rule's id.
func RuleIDs() []string {
	var ids []string
	for _, r := range Rules() {
		ids = append(ids, r.ID)
	}
	return ids
}

package events

// The vocabulary that travels between the adapters, the projection and the orchestrator. Each is
// a type of its own, so a status cannot be compared with a breaker state or a typo'd literal; on
// the wire each is its plain string.

// Status is a target's health as the projection sees it, and the overall status of a health
// report. infrastate.Status is the same type.
type Status string

const (
	StatusUnknown  Status = "unknown"
	StatusHealthy  Status = "healthy"
	StatusDegraded Status = "degraded"
	StatusCritical Status = "critical"
)

// Statuses are the statuses in order of severity, best first.
func Statuses() []Status {
	return []Status{StatusHealthy, StatusUnknown, StatusDegraded, StatusCritical}
}

// Severity orders statuses from best to worst, for the overall status. A target nothing is known
// about yet is worse than a healthy one (nobody can vouch for it) and better than a degraded one
// (nothing says it fails); a status this version does not know counts as unknown.
func (s Status) Severity() int {
	switch s {
	case StatusHealthy:
		return 0
	case StatusUnknown:
		return 1
	case StatusDegraded:
		return 2
	case StatusCritical:
		return 3
	}
	return 1
}

// BreakerState is a circuit breaker's state.
type BreakerState string

const (
	BreakerClosed   BreakerState = "closed"
	BreakerOpen     BreakerState = "open"
	BreakerHalfOpen BreakerState = "half_open"
)

// ProbeVerdict is what one probe of a health check found.
type ProbeVerdict string

const (
	ProbeHealthy   ProbeVerdict = "healthy"
	ProbeUnhealthy ProbeVerdict = "unhealthy"
	// ProbeUnknown: no reply came within the health check's deadline.
	ProbeUnknown ProbeVerdict = "unknown"
)

func strs[T ~string](values ...T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

var breakerStates = strs(BreakerClosed, BreakerOpen, BreakerHalfOpen)

package consul

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/hashicorp/consul/api"
)

// transient reports whether err may go away by itself, so that the command is retried and counts
// against the target's circuit breaker:
//
//   - the agent cannot be reached or dropped the connection (refused, reset, EOF, timeouts);
//   - it answered 5xx or 429: no cluster leader, an RPC to the servers failed, rate limited.
//
// It is not for what the agent refused (4xx: bad request, unknown service or check, permission
// denied), for a check that is not a TTL check (a 500 in Consul), or for a cancelled context.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var se api.StatusError
	if errors.As(err, &se) {
		switch {
		case se.Code == http.StatusTooManyRequests:
			return true
		case se.Code >= 500:
			return !permanentServerError(se.Body)
		}
		return false
	}
	if errors.Is(err, errNoLeader) || strings.Contains(err.Error(), "No cluster leader") {
		return true
	}
	for _, target := range []error{
		context.DeadlineExceeded, io.EOF, io.ErrUnexpectedEOF, syscall.ECONNREFUSED, syscall.ECONNRESET,
		syscall.ECONNABORTED, syscall.EPIPE, syscall.EHOSTUNREACH, syscall.ENETUNREACH,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	// Anything else that went wrong on the network (a dial that failed, a DNS lookup) is about
	// reaching the agent, not about the request.
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) || errors.As(err, &dns)
}

// permanentServerError reports whether a 5xx answer is one Consul gives for a request that can
// never succeed as it is.
//
// WARNING: Consul answers 500, not 4xx, when a TTL update names a check that is not a TTL check.
func permanentServerError(body string) bool {
	return strings.Contains(body, "does not have associated TTL")
}

package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/omninode/omnibase-infra/events"
)

// transient reports whether err may go away by itself, so that the command is retried and counts
// against the target's circuit breaker:
//
//   - the server cannot be reached or dropped the connection (a failed connect, refused, reset,
//     EOF, a network timeout, or an error pgconn marks safe to retry: nothing was sent);
//   - the server says so: SQLSTATE class 08 (connection exception), class 53 (insufficient
//     resources: too many connections, out of memory, disk full), 57P01 admin_shutdown,
//     57P02 crash_shutdown, 57P03 cannot_connect_now (starting up or shutting down), and
//     40001 serialization_failure and 40P01 deadlock_detected, which a new try can pass;
//   - the call's deadline passed, whatever the server answered to the cancel request (57014):
//     a timeout, as effect.Driver's contract has it and as the other drivers say. The runner
//     does not retry it all the same, the command's time being up.
//
// It is not for what the server refused (syntax 42…, constraints 23…, data 22…, a read-only
// standby 25006, a statement cancelled by someone else 57014, …), for a bad argument or a result
// past its cap, nor for a cancelled context.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	// Before the server's error: a statement stopped at its deadline carries both (see
	// withContextErr), and the deadline is why it failed.
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return transientCode(pgErr.Code)
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	if pgconn.SafeToRetry(err) {
		return true
	}
	for _, target := range []error{
		io.EOF, io.ErrUnexpectedEOF, syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED,
		syscall.EPIPE, syscall.EHOSTUNREACH, syscall.ENETUNREACH,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	var netErr net.Error
	var opErr *net.OpError
	var dnsErr *net.DNSError
	return errors.As(err, &netErr) || errors.As(err, &opErr) || errors.As(err, &dnsErr)
}

// transientCode reports whether a server error of SQLSTATE code may go away by itself.
func transientCode(code string) bool {
	switch code {
	case "57P01", "57P02", "57P03", "40001", "40P01":
		return true
	}
	return strings.HasPrefix(code, "08") || strings.HasPrefix(code, "53")
}

// Retryable reports whether a new try of a command that failed with the transient err cannot
// apply its statements twice: the server answered with an error (the statement, or the whole
// transaction, was rolled back), the connection was never made, or pgx knows nothing was sent.
// A connection lost while a statement was in flight is transient but not retryable: the
// statement may have been applied.
func (d *Driver) Retryable(_ events.Command, err error) bool {
	var pgErr *pgconn.PgError
	var connectErr *pgconn.ConnectError
	return errors.As(err, &pgErr) || errors.As(err, &connectErr) || pgconn.SafeToRetry(err)
}

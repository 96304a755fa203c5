package tlspolicy

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"
)

// Dialer dials TLS connections of endpoint under the policy, the server's name taken from the
// address dialled: for clients that take a dialer rather than a tls.Config (Sarama, franz-go).
type Dialer struct {
	c          *client
	serverName string
	d          net.Dialer
}

// Dialer returns endpoint's dialer with its files (empty: the policy's); serverName is the name
// the servers' certificates must carry (empty: the host dialled); d's timeout bounds the
// handshake too.
func (p *Policy) Dialer(endpoint, serverName string, f Files, d net.Dialer) (*Dialer, error) {
	c, err := p.clientWith(endpoint, f)
	if err != nil {
		return nil, err
	}
	return &Dialer{c: c, serverName: serverName, d: d}, nil
}

func (d *Dialer) name(addr string) (string, error) {
	if d.serverName != "" {
		return d.serverName, nil
	}
	host, _, err := net.SplitHostPort(addr)
	return host, err
}

// DialContext connects to addr and completes the handshake.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, err := d.name(addr)
	if err != nil {
		return nil, err
	}
	if d.d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.d.Timeout)
		defer cancel()
	}
	conn, err := d.d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(conn, d.c.config(host))
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	return tc, nil
}

// Dial is DialContext for clients whose dialers take no context (Sarama's); the dialer's
// timeout bounds the connection and the handshake.
func (d *Dialer) Dial(network, addr string) (net.Conn, error) {
	host, err := d.name(addr)
	if err != nil {
		return nil, err
	}
	conn, err := d.d.Dial(network, addr)
	if err != nil {
		return nil, err
	}
	if d.d.Timeout > 0 {
		_ = conn.SetDeadline(time.Now().Add(d.d.Timeout))
	}
	tc := tls.Client(conn, d.c.config(host))
	if err := tc.Handshake(); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return tc, nil
}

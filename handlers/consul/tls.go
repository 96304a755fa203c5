package consul

import (
	"fmt"
	"net"
	"strings"

	"github.com/hashicorp/consul/api"

	"github.com/omninode/omnibase-infra/platform/tlspolicy"
)

// https reports whether a target's address asks for HTTPS: an https:// URL, or a bare HOST:PORT
// with CONSUL_HTTP_SSL set (as Consul's own clients read it, into api.DefaultConfig's Scheme).
func https(addr, defaultScheme string) bool {
	if scheme, _, ok := strings.Cut(addr, "://"); ok {
		return scheme == "https"
	}
	return defaultScheme == "https"
}

// host is the host part of a target's address.
func host(addr string) string {
	if _, rest, ok := strings.Cut(addr, "://"); ok {
		addr = rest
	}
	addr, _, _ = strings.Cut(addr, "/")
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// ClientConfig is the API client configuration of target t: its TLS, whatever Consul's
// environment variables say about certificates, made by the policy (endpoint consul/NAME).
func ClientConfig(t Target, p *tlspolicy.Policy) (*api.Config, error) {
	if p == nil {
		p = tlspolicy.Default()
	}
	ac := api.DefaultConfig()
	ac.Address = t.Addr
	if !https(t.Addr, ac.Scheme) {
		if p.Require() {
			return nil, fmt.Errorf("consul target %q: %s is plain HTTP, but the TLS policy requires TLS (--tls-require): use https://", t.Name, t.Addr)
		}
		return ac, nil
	}
	ac.Scheme = "https"
	// A TLSClientConfig on the transport is kept by api.NewClient: CONSUL_CACERT and the like
	// are not read.
	ac.Transport.TLSClientConfig = p.ClientConfig("consul/"+t.Name, host(t.Addr))
	return ac, nil
}

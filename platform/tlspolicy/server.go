package tlspolicy

import (
	"crypto/tls"
	"crypto/x509"
)

// ServerOn reports whether servers use TLS.
func (p *Policy) ServerOn() bool { return p.server != nil }

// ServerConfig is the configuration of a server of endpoint ("http", "console"): the policy's
// server certificate and client authentication, each new connection with the files' current
// content. Nil when no server certificate is configured.
func (p *Policy) ServerConfig(endpoint string) *tls.Config {
	if p.server == nil {
		return nil
	}
	p.use(endpoint, "cert", p.server)
	p.use(endpoint, "client_ca", p.clientCA)
	get := func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return p.server.current().pair, nil }
	cfg := p.base()
	cfg.GetCertificate = get
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		c := p.base()
		c.GetCertificate = get
		// The client's certificate is verified in VerifyConnection, so that a refusal is counted
		// and said with its reason; a client that sends none where one is required is refused
		// by Go itself (with the certificate_required alert) and logged by the server.
		switch p.cfg.Server.ClientAuth {
		case ClientAuthRequest:
			c.ClientAuth = tls.RequestClientCert
		case ClientAuthRequire:
			c.ClientAuth = tls.RequireAnyClientCert
		}
		var pool *x509.CertPool
		if p.clientCA != nil {
			pool = p.clientCA.current().pool
			c.ClientCAs = pool // the CAs named in the certificate request
		}
		peer := ""
		if hello.Conn != nil {
			peer = hello.Conn.RemoteAddr().String()
		}
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			var err error
			if pool != nil && len(cs.PeerCertificates) > 0 {
				err = verify(cs, "", pool, x509.ExtKeyUsageClientAuth)
			}
			p.outcome(endpoint, "server", peer, err)
			return err
		}
		return c, nil
	}
	return cfg
}

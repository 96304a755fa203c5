package main

import (
	"github.com/spf13/pflag"

	"github.com/omninode/omnibase-infra/platform/tlspolicy"
)

// registerTLS binds the TLS policy's flags to c (app.Config.TLS, its defaults the policy's). The
// --kafka-tls-* flags stay the control bus's own files, held to this policy.
func registerTLS(f *pflag.FlagSet, c *tlspolicy.Config) {
	f.StringVar(&c.Profile, "tls-profile", c.Profile, "TLS profile of every connection: modern (TLS 1.3 only), intermediate (TLS 1.2 and 1.3, Mozilla's suites) or custom")
	f.StringVar(&c.MinVersion, "tls-min-version", "", "custom profile: lowest TLS version, 1.2 or 1.3")
	f.StringVar(&c.MaxVersion, "tls-max-version", "", "custom profile: highest TLS version, 1.2 or 1.3")
	f.StringSliceVar(&c.CipherSuites, "tls-cipher-suites", nil, "custom profile: TLS 1.2 suites (IANA names, among intermediate's; TLS 1.3's cannot be chosen in Go)")
	f.StringVar(&c.CAFile, "tls-ca", "", "PEM file of the CAs that sign the servers omni connects to, for every connection naming none of its own (default: the system's; reloaded)")
	f.StringVar(&c.CertFile, "tls-cert", "", "PEM client certificate omni presents to servers that ask, for every connection naming none of its own (with --tls-key; reloaded)")
	f.StringVar(&c.KeyFile, "tls-key", "", "PEM key of --tls-cert")
	f.BoolVar(&c.Require, "tls-require", false, "refuse to start when any connection or the HTTP server is configured without TLS")
	f.DurationVar(&c.ReloadInterval, "tls-reload-interval", c.ReloadInterval, "how often certificate, key and CA files are read again for a change")
	f.DurationVar(&c.ExpiryWarning, "tls-expiry-warning", c.ExpiryWarning, "warn this long before a certificate in use expires")
	f.StringVar(&c.Server.CertFile, "http-tls-cert", "", "PEM certificate of the HTTP server: with it /healthz, /readyz and /metrics are served over TLS (with --http-tls-key; reloaded)")
	f.StringVar(&c.Server.KeyFile, "http-tls-key", "", "PEM key of --http-tls-cert")
	f.StringVar(&c.Server.ClientCAFile, "http-client-ca", "", "PEM file of the CAs whose client certificates the HTTP server accepts (reloaded)")
	f.StringVar(&c.Server.ClientAuth, "http-client-auth", "", "client certificates of the HTTP server: none, request (verified when given) or require (default: require with --http-client-ca, none without)")
}

package postgres

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/omninode/omnibase-infra/platform/tlspolicy"
)

// ApplyTLS puts the connections of cc, parsed from rawURL, under the TLS policy p as endpoint:
// every attempt pgx would make over TLS (as the URL's sslmode says) is made with the policy's
// configuration instead — its profile, and the server's chain and name always verified
// (verify-full, whatever the sslmode) against the URL's sslrootcert or the policy's CA — and
// the URL's sslcert and sslkey are reloaded like the policy's files. With explicit, every attempt
// uses TLS with its files whatever the sslmode says. When the policy requires TLS, a
// configuration that may connect in plaintext is refused.
func ApplyTLS(cc *pgx.ConnConfig, rawURL string, p *tlspolicy.Policy, endpoint string, explicit *TLS) error {
	if p == nil {
		p = tlspolicy.Default()
	}
	files, serverName := urlFiles(rawURL), ""
	names := map[string]string{"CAFile": "sslrootcert", "CertFile": "sslcert", "KeyFile": "sslkey"}
	if explicit != nil {
		files = tlspolicy.Files{CAFile: explicit.CAFile, CertFile: explicit.CertFile, KeyFile: explicit.KeyFile}
		serverName = explicit.ServerName
		names = map[string]string{"CAFile": "TLS.CAFile", "CertFile": "TLS.CertFile", "KeyFile": "TLS.KeyFile"}
	}
	if err := p.Load(files, names); err != nil {
		return err
	}
	attempts := append([]*pgconn.FallbackConfig{{Host: cc.Host, Port: cc.Port, TLSConfig: cc.TLSConfig}}, cc.Fallbacks...)
	var kept []*pgconn.FallbackConfig
	for _, a := range attempts {
		if a.TLSConfig == nil && explicit == nil {
			if p.Require() {
				return fmt.Errorf("%s: the URL's sslmode lets connections to %s be plaintext, but the TLS policy requires TLS "+
					"(--tls-require): use sslmode=verify-full", endpoint, a.Host)
			}
			kept = append(kept, a)
			continue
		}
		name := serverName
		if name == "" {
			name = a.Host
		}
		tc, err := p.ClientConfigWith(endpoint, name, files)
		if err != nil {
			return err
		}
		kept = append(kept, &pgconn.FallbackConfig{Host: a.Host, Port: a.Port, TLSConfig: tc})
	}
	if len(kept) == 0 {
		return errors.New(endpoint + ": no connection attempt is left")
	}
	cc.Host, cc.Port, cc.TLSConfig, cc.Fallbacks = kept[0].Host, kept[0].Port, kept[0].TLSConfig, kept[1:]
	return nil
}

// urlFiles are the sslrootcert, sslcert and sslkey of a postgres:// URL (pgx has read them too;
// the policy reads them again so that they reload). A keyword=value string has none here.
func urlFiles(rawURL string) tlspolicy.Files {
	if !strings.HasPrefix(rawURL, "postgres://") && !strings.HasPrefix(rawURL, "postgresql://") {
		return tlspolicy.Files{}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return tlspolicy.Files{}
	}
	q := u.Query()
	f := tlspolicy.Files{CAFile: q.Get("sslrootcert"), CertFile: q.Get("sslcert"), KeyFile: q.Get("sslkey")}
	if f.CAFile == "system" {
		f.CAFile = ""
	}
	return f
}

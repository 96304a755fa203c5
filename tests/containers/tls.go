package containers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/omninode/omnibase-infra/tests/images"
)

// PostgresTLS is how StartPostgresTLS's server speaks TLS.
type PostgresTLS struct {
	// CertFile and KeyFile are the server's PEM certificate and key.
	CertFile, KeyFile string
	// CAFile signs the client certificates the server accepts.
	CAFile string
	// CertUser is a role that must authenticate with a client certificate (its CN the role's
	// name); created at start. Optional.
	CertUser string
}

// pgHBA: TLS only; CertUser by client certificate, everyone else trusted (a test server).
const pgHBA = `local all all trust
hostssl all %[1]s all cert
hostssl all all all trust
hostnossl all all all reject
`

// StartPostgresTLS starts a PostgreSQL server with ssl=on that refuses every connection without
// TLS. Its URL connects over TLS without verifying the server (sslmode=require), for the test's
// own set-up; what is tested builds its own.
func StartPostgresTLS(ctx context.Context, s PostgresTLS) (*Postgres, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	user := s.CertUser
	if user == "" {
		user = "omni_no_cert_user"
	}
	hba, err := os.CreateTemp("", "pg_hba-*.conf")
	if err != nil {
		return nil, err
	}
	defer os.Remove(hba.Name())
	if _, err := fmt.Fprintf(hba, pgHBA, user); err != nil {
		return nil, err
	}
	if err := hba.Close(); err != nil {
		return nil, err
	}
	// PostgreSQL wants its key owned by itself and private: the copy made at start is.
	script := `cp /tls/server-key.pem /tmp/server-key.pem && chmod 600 /tmp/server-key.pem && exec /usr/local/bin/entrypoint.sh "$@"`
	srv, err := start(ctx, images.Postgres,
		testcontainers.WithFiles(
			testcontainers.ContainerFile{HostFilePath: s.CertFile, ContainerFilePath: "/tls/server.pem", FileMode: 0o644},
			testcontainers.ContainerFile{HostFilePath: s.KeyFile, ContainerFilePath: "/tls/server-key.pem", FileMode: 0o644},
			testcontainers.ContainerFile{HostFilePath: s.CAFile, ContainerFilePath: "/tls/ca.pem", FileMode: 0o644},
			testcontainers.ContainerFile{HostFilePath: hba.Name(), ContainerFilePath: "/tls/pg_hba.conf", FileMode: 0o644}),
		testcontainers.WithEntrypoint("/bin/sh", "-c", script, "sh"),
		testcontainers.WithCmd("-c", "ssl=on", "-c", "ssl_cert_file=/tls/server.pem", "-c", "ssl_key_file=/tmp/server-key.pem",
			"-c", "ssl_ca_file=/tls/ca.pem", "-c", "hba_file=/tls/pg_hba.conf"),
		testcontainers.WithEnv(map[string]string{"PGPORT": strconv.Itoa(port)}),
		testcontainers.WithWaitStrategy(wait.ForLog("database system is ready to accept connections").WithStartupTimeout(90*time.Second)),
	)
	if err != nil {
		return nil, err
	}
	p := &Postgres{Server: srv, Port: port, URL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=require", port)}
	if err := p.waitReady(ctx); err != nil {
		return p, err
	}
	if s.CertUser != "" {
		if err := p.exec(ctx, "CREATE ROLE "+s.CertUser+" LOGIN SUPERUSER"); err != nil {
			return p, err
		}
	}
	return p, nil
}

// ConsulTLS is how StartConsulTLS's agent serves HTTPS.
type ConsulTLS struct {
	// CertFile and KeyFile are the agent's PEM certificate and key; CAFile signs them.
	CertFile, KeyFile, CAFile string
}

// StartConsulTLS starts a Consul dev agent whose HTTP API is HTTPS only (its plain HTTP port
// off), and waits until it has a leader. Addr is the HTTPS API's HOST:PORT.
func StartConsulTLS(ctx context.Context, s ConsulTLS) (*Consul, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	https, serfLAN, server := ports[0], ports[1], ports[2]
	hcl := `tls { defaults { cert_file = "/tls/cert.pem" key_file = "/tls/key.pem" ca_file = "/tls/ca.pem" } }`
	srv, err := start(ctx, images.Consul,
		testcontainers.WithFiles(
			testcontainers.ContainerFile{HostFilePath: s.CertFile, ContainerFilePath: "/tls/cert.pem", FileMode: 0o644},
			testcontainers.ContainerFile{HostFilePath: s.KeyFile, ContainerFilePath: "/tls/key.pem", FileMode: 0o644},
			testcontainers.ContainerFile{HostFilePath: s.CAFile, ContainerFilePath: "/tls/ca.pem", FileMode: 0o644}),
		testcontainers.WithCmd("agent", "-dev", "-client", "127.0.0.1", "-bind", "127.0.0.1", "-hcl", hcl,
			"-http-port", "-1", "-https-port", strconv.Itoa(https), "-serf-lan-port", strconv.Itoa(serfLAN), "-server-port", strconv.Itoa(server),
			"-dns-port", "-1", "-grpc-port", "-1", "-grpc-tls-port", "-1", "-serf-wan-port", "-1"))
	if err != nil {
		return nil, err
	}
	c := &Consul{Server: srv, Addr: fmt.Sprintf("127.0.0.1:%d", https)}
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		return c, err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return c, poll(wctx, "Consul at https://"+c.Addr+" electing a leader", func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+c.Addr+"/v1/status/leader", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var leader string
		if err := json.NewDecoder(resp.Body).Decode(&leader); err != nil {
			return fmt.Errorf("status %s: %w", resp.Status, err)
		}
		if leader == "" {
			return fmt.Errorf("no leader yet")
		}
		return nil
	})
}

// StartVaultTLS is StartVault with a second listener, over TLS with the PEM certificate and key
// given, at HTTPSAddr (https://127.0.0.1:PORT); Addr stays the plain one the helper sets up
// through.
func StartVaultTLS(ctx context.Context, certFile, keyFile string) (v *Vault, httpsAddr string, err error) {
	port, err := FreePort()
	if err != nil {
		return nil, "", err
	}
	listener := fmt.Sprintf(`
listener "tcp" {
  address       = "127.0.0.1:%d"
  tls_cert_file = "/vault/tls/cert.pem"
  tls_key_file  = "/vault/tls/key.pem"
}
`, port)
	v, err = startVault(ctx, listener,
		testcontainers.ContainerFile{HostFilePath: certFile, ContainerFilePath: "/vault/tls/cert.pem", FileMode: 0o644},
		testcontainers.ContainerFile{HostFilePath: keyFile, ContainerFilePath: "/vault/tls/key.pem", FileMode: 0o644})
	return v, fmt.Sprintf("https://127.0.0.1:%d", port), err
}

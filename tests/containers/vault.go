package containers

import (
	"context"
	"fmt"
	"strings"
	"time"

	vault "github.com/hashicorp/vault/api"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/omninode/omnibase-infra/tests/images"
)

// Vault is a Vault 1.14.8 server (not a dev server) keeping its state in files inside its
// container: StartVault initialises and unseals it, Start unseals it again after a Stop, and
// its secrets, leases and keys survive both.
type Vault struct {
	*Server
	// Addr of its API, http://127.0.0.1:PORT.
	Addr string
	// RootToken has every right.
	RootToken string
	// Client is an API client with the root token.
	Client    *vault.Client
	unsealKey string
}

// vaultConfig is the server's configuration on port.
const vaultConfig = `storage "file" {
  path = "/vault/data"
}
listener "tcp" {
  address     = "127.0.0.1:%d"
  tls_disable = true
}
api_addr      = "http://127.0.0.1:%d"
disable_mlock = true
`

// StartVault starts a Vault server, initialises it with one unseal key and unseals it.
func StartVault(ctx context.Context) (*Vault, error) { return startVault(ctx, "") }

// startVault is StartVault with more configuration (another listener) and the files it needs.
func startVault(ctx context.Context, extra string, files ...testcontainers.ContainerFile) (*Vault, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s, err := start(ctx, images.Vault,
		testcontainers.WithFiles(append(files, testcontainers.ContainerFile{
			Reader: strings.NewReader(fmt.Sprintf(vaultConfig, port, port) + extra), ContainerFilePath: "/vault/config.hcl", FileMode: 0o644,
		})...),
		testcontainers.WithWaitStrategy(wait.ForLog("Vault server started!").WithStartupTimeout(60*time.Second)),
	)
	if err != nil {
		return nil, err
	}
	v := &Vault{Server: s, Addr: fmt.Sprintf("http://127.0.0.1:%d", port)}
	cfg := vault.DefaultConfig()
	cfg.Address = v.Addr
	if v.Client, err = vault.NewClient(cfg); err != nil {
		return v, fmt.Errorf("could not create a Vault client: %w", err)
	}
	v.Client.ClearToken()
	if err := v.waitListening(ctx); err != nil {
		return v, err
	}
	init, err := v.Client.Sys().InitWithContext(ctx, &vault.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		return v, fmt.Errorf("could not initialise Vault: %w", err)
	}
	v.RootToken, v.unsealKey = init.RootToken, init.KeysB64[0]
	v.Client.SetToken(v.RootToken)
	return v, v.unseal(ctx)
}

// Start starts the stopped server again, on the same port, and unseals it.
func (v *Vault) Start(ctx context.Context) error {
	if err := v.ctr.Start(ctx); err != nil {
		return fmt.Errorf("could not start Vault again: %w", err)
	}
	if err := v.waitListening(ctx); err != nil {
		return err
	}
	return v.unseal(ctx)
}

func (v *Vault) waitListening(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return poll(ctx, "Vault at "+v.Addr+" answering", func(ctx context.Context) error {
		_, err := v.Client.Sys().SealStatusWithContext(ctx)
		return err
	})
}

func (v *Vault) unseal(ctx context.Context) error {
	if _, err := v.Client.Sys().UnsealWithContext(ctx, v.unsealKey); err != nil {
		return fmt.Errorf("could not unseal Vault: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	// Unsealed is not yet active: the mounts are set up after.
	return poll(ctx, "Vault at "+v.Addr+" becoming active", func(ctx context.Context) error {
		h, err := v.Client.Sys().HealthWithContext(ctx)
		if err != nil {
			return err
		}
		if !h.Initialized || h.Sealed || h.Standby {
			return fmt.Errorf("initialized %t, sealed %t, standby %t", h.Initialized, h.Sealed, h.Standby)
		}
		return nil
	})
}

// EnableKV mounts a KV v2 engine at mount.
func (v *Vault) EnableKV(ctx context.Context, mount string) error {
	if err := v.Client.Sys().MountWithContext(ctx, mount, &vault.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		return fmt.Errorf("could not mount KV v2 at %s: %w", mount, err)
	}
	// A new KV v2 mount upgrades itself for a moment before it takes writes.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return poll(ctx, "KV v2 at "+mount+" taking writes", func(ctx context.Context) error {
		_, err := v.Client.KVv2(mount).Put(ctx, "_ready", map[string]any{"ok": "1"})
		return err
	})
}

// EnableTransit mounts the transit engine at mount.
func (v *Vault) EnableTransit(ctx context.Context, mount string) error {
	if err := v.Client.Sys().MountWithContext(ctx, mount, &vault.MountInput{Type: "transit"}); err != nil {
		return fmt.Errorf("could not mount transit at %s: %w", mount, err)
	}
	return nil
}

// DatabaseRole is a role of the database secrets engine: each read of MOUNT/creds/NAME creates a
// PostgreSQL user with a lease of DefaultTTL, renewable up to MaxTTL.
type DatabaseRole struct {
	Name               string
	DefaultTTL, MaxTTL time.Duration
	// CreationStatements; default: a login user valid until the lease ends, with every right on
	// the public schema of the database.
	CreationStatements []string
	// RevocationStatements; default: end the user's sessions and drop it.
	RevocationStatements []string
}

// EnableDatabase mounts the database secrets engine at mount, connected as postgres to
// database (a name on pg) with postgresql-database-plugin, and creates the roles.
func (v *Vault) EnableDatabase(ctx context.Context, mount string, pg *Postgres, database string, roles ...DatabaseRole) error {
	if err := v.Client.Sys().MountWithContext(ctx, mount, &vault.MountInput{Type: "database"}); err != nil {
		return fmt.Errorf("could not mount the database engine at %s: %w", mount, err)
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = r.Name
	}
	_, err := v.Client.Logical().WriteWithContext(ctx, mount+"/config/postgres", map[string]any{
		"plugin_name":    "postgresql-database-plugin",
		"connection_url": fmt.Sprintf("postgresql://{{username}}:{{password}}@127.0.0.1:%d/%s?sslmode=disable", pg.Port, database),
		"username":       "postgres", "password": "unused-under-trust",
		"allowed_roles":        strings.Join(names, ","),
		"verify_connection":    true,
		"max_open_connections": 2,
	})
	if err != nil {
		return fmt.Errorf("could not configure the database engine at %s: %w", mount, err)
	}
	for _, r := range roles {
		create := r.CreationStatements
		if create == nil {
			create = []string{`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
				`GRANT ALL ON SCHEMA public TO "{{name}}";`, `GRANT ALL ON ALL TABLES IN SCHEMA public TO "{{name}}";`}
		}
		revoke := r.RevocationStatements
		if revoke == nil {
			revoke = []string{`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{{name}}';`,
				`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{{name}}";`, `REVOKE ALL ON SCHEMA public FROM "{{name}}";`,
				`DROP ROLE IF EXISTS "{{name}}";`}
		}
		if _, err := v.Client.Logical().WriteWithContext(ctx, mount+"/roles/"+r.Name, map[string]any{
			"db_name": "postgres", "default_ttl": r.DefaultTTL.String(), "max_ttl": r.MaxTTL.String(),
			"creation_statements": create, "revocation_statements": revoke,
		}); err != nil {
			return fmt.Errorf("could not create database role %s: %w", r.Name, err)
		}
	}
	return nil
}

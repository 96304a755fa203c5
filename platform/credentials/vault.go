package credentials

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// VaultConfig configures the Vault client every vault-* reference and the transit wrapper use.
type VaultConfig struct {
	// Addr of the Vault server, e.g. https://vault:8200. Default: VAULT_ADDR, as Vault's own
	// client reads it.
	Addr string
	// Token authenticates (token auth). Optional: else read from TokenFile, else VAULT_TOKEN.
	Token string
	// TokenFile holds the token (as Vault Agent or a Kubernetes secret writes it); it is read
	// again before each request, so a token rewritten there is picked up. Optional.
	TokenFile string
	// HTTPClient, e.g. with a TLS configuration. Default Vault's.
	HTTPClient *http.Client
}

// Vault is a Vault client with token auth.
type Vault struct {
	cfg    VaultConfig
	client *vault.Client
}

// NewVault builds the client. It does not contact Vault.
func NewVault(cfg VaultConfig) (*Vault, error) {
	vc := vault.DefaultConfig()
	if vc.Error != nil {
		return nil, fmt.Errorf("could not configure the Vault client: %w", vc.Error)
	}
	if cfg.Addr != "" {
		vc.Address = cfg.Addr
	}
	if cfg.HTTPClient != nil {
		vc.HttpClient = cfg.HTTPClient
	}
	// Retries are the cache's: it keeps the current secret meanwhile.
	vc.MaxRetries = 0
	c, err := vault.NewClient(vc)
	if err != nil {
		return nil, fmt.Errorf("could not create the Vault client for %s: %w", vc.Address, err)
	}
	if cfg.Token != "" {
		c.SetToken(cfg.Token)
	}
	v := &Vault{cfg: cfg, client: c}
	if cfg.TokenFile != "" {
		if err := v.readTokenFile(); err != nil {
			return nil, err
		}
	}
	if c.Token() == "" {
		return nil, errors.New("no Vault token: give --vault-token-file or VAULT_TOKEN")
	}
	return v, nil
}

func (v *Vault) readTokenFile() error {
	b, err := os.ReadFile(v.cfg.TokenFile)
	if err != nil {
		return fmt.Errorf("could not read the Vault token file: %w", err)
	}
	if t := strings.TrimSpace(string(b)); t != "" {
		v.client.SetToken(t)
	}
	return nil
}

// api is the client, its token re-read from the token file.
func (v *Vault) api() *vault.Client {
	if v.cfg.TokenFile != "" {
		_ = v.readTokenFile() // the token read before stays when the file is being rewritten
	}
	return v.client
}

// Client is the underlying Vault API client, for tests and tools.
func (v *Vault) Client() *vault.Client { return v.client }

// KV is the provider of vault-kv references.
func (v *Vault) KV() Provider { return kvProvider{v} }

// Database is the provider (and renewer) of vault-db references.
func (v *Vault) Database() Provider { return dbProvider{v} }

type kvProvider struct{ v *Vault }

// Read reads a KV v2 secret: MOUNT/PATH's field, or its username and password fields.
func (p kvProvider) Read(ctx context.Context, ref Ref) (Secret, error) {
	mount, path, _ := strings.Cut(ref.Path, "/")
	kv, err := p.v.api().KVv2(mount).Get(ctx, path)
	if err != nil {
		return Secret{}, fmt.Errorf("vault: %w", err)
	}
	field := func(name string) (string, error) {
		s, ok := kv.Data[name].(string)
		if !ok || s == "" {
			return "", fmt.Errorf("vault KV secret %s has no string field %q: %w", ref.Path, name, ErrNotFound)
		}
		return s, nil
	}
	if ref.Field != "" {
		pw, err := field(ref.Field)
		return Secret{Password: pw}, err
	}
	user, err := field("username")
	if err != nil {
		return Secret{}, err
	}
	pw, err := field("password")
	return Secret{Username: user, Password: pw}, err
}

type dbProvider struct{ v *Vault }

// Read asks the database secrets engine for new credentials: a new user with its own lease.
func (p dbProvider) Read(ctx context.Context, ref Ref) (Secret, error) {
	now := time.Now()
	s, err := p.v.api().Logical().ReadWithContext(ctx, ref.Path)
	if err != nil {
		return Secret{}, fmt.Errorf("vault: %w", err)
	}
	if s == nil || s.Data == nil {
		return Secret{}, fmt.Errorf("vault answered nothing at %s: %w", ref.Path, ErrNotFound)
	}
	user, _ := s.Data["username"].(string)
	pw, _ := s.Data["password"].(string)
	if user == "" || pw == "" {
		return Secret{}, fmt.Errorf("vault's answer at %s has no username and password: %w", ref.Path, ErrNotFound)
	}
	d := time.Duration(s.LeaseDuration) * time.Second
	out := Secret{Username: user, Password: pw, LeaseID: s.LeaseID, LeaseDuration: d, Renewable: s.Renewable}
	if d > 0 {
		out.ExpiresAt = now.Add(d)
	}
	return out, nil
}

// Renew extends the lease (sys/leases/renew).
func (p dbProvider) Renew(ctx context.Context, s Secret, increment time.Duration) (time.Duration, error) {
	r, err := p.v.api().Sys().RenewWithContext(ctx, s.LeaseID, int(increment.Seconds()))
	if err != nil {
		var re *vault.ResponseError
		if errors.As(err, &re) && (re.StatusCode == http.StatusBadRequest || re.StatusCode == http.StatusNotFound) {
			return 0, fmt.Errorf("vault: %w: %w", ErrLeaseGone, err)
		}
		return 0, fmt.Errorf("vault: %w", err)
	}
	if r == nil || r.LeaseDuration <= 0 {
		return 0, fmt.Errorf("vault renewed the lease with no time to live: %w", ErrLeaseGone)
	}
	return time.Duration(r.LeaseDuration) * time.Second, nil
}

// Package tlspolicy is the one TLS policy of a process: the profile every connection it makes or
// accepts is held to (Mozilla's modern or intermediate, or a narrowed custom one), the
// certificates, keys and CAs it reads from files and reloads when they change, their expiry as a
// metric and a warning, and the *tls.Config of every client and server built from all that.
package tlspolicy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Client authentication modes of a server (Config.Server.ClientAuth).
const (
	ClientAuthNone    = "none"
	ClientAuthRequest = "request"
	ClientAuthRequire = "require"
)

// Config is the TLS policy of a process.
type Config struct {
	// Profile is modern (TLS 1.3 only), intermediate (TLS 1.2 and 1.3, Mozilla's AEAD suites) or
	// custom (intermediate narrowed by MinVersion, MaxVersion and CipherSuites). Default
	// intermediate.
	Profile string
	// MinVersion and MaxVersion narrow a custom profile: "1.2" or "1.3". Default: 1.2 and 1.3.
	MinVersion, MaxVersion string
	// CipherSuites narrow a custom profile's TLS 1.2 suites (IANA names, among intermediate's).
	// Default: intermediate's. TLS 1.3's suites cannot be chosen in Go.
	CipherSuites []string
	// CAFile is a PEM file of the CAs that sign the servers this process connects to, for every
	// connection that names no CA of its own. Default: the system's roots. Reloaded when it
	// changes.
	CAFile string
	// CertFile and KeyFile are the client certificate (PEM) this process presents to servers that
	// ask for one, for every connection that names none of its own. Optional: both or neither.
	CertFile, KeyFile string
	// Server is the TLS of the servers this process runs (the HTTP endpoints). Optional.
	Server ServerConfig
	// Require refuses to start when a connection is configured without TLS. Default false.
	Require bool
	// ReloadInterval is how often the files are read again for a change. Default 5s.
	ReloadInterval time.Duration
	// ExpiryWarning is how long before a certificate expires a warning is logged. Default 720h.
	ExpiryWarning time.Duration
	// Flags name the fields in errors as the caller calls them ("Profile" → "--tls-profile").
	// Optional: a field it does not name keeps its own name.
	Flags map[string]string
	// OnRefusal is told of every handshake the policy refuses (a server certificate that does
	// not verify, a client certificate that does not), after it is counted and logged: the hook
	// for a security event. Optional; it must not block.
	OnRefusal func(Refusal)
}

// Refusal is a handshake the policy refused.
type Refusal struct {
	// Endpoint is the connection's name ("control-db", "http"); Side is client or server.
	Endpoint, Side string
	// Peer is the server's name (client side) or the client's address (server side).
	Peer string
	// Reason is why, never a secret.
	Reason string
}

// ServerConfig is the TLS of a server.
type ServerConfig struct {
	// CertFile and KeyFile are the server's certificate and key (PEM). With neither, servers are
	// plaintext.
	CertFile, KeyFile string
	// ClientCAFile holds the CAs that sign the client certificates accepted. Required with
	// ClientAuth request or require.
	ClientCAFile string
	// ClientAuth is none, request (verified when given) or require. Default: require when a
	// ClientCAFile is given, none otherwise.
	ClientAuth string
}

// On reports whether servers use TLS.
func (s ServerConfig) On() bool { return s.CertFile != "" || s.KeyFile != "" }

// DefaultConfig is the policy with its defaults.
func DefaultConfig() Config {
	return Config{Profile: ProfileIntermediate, ReloadInterval: 5 * time.Second, ExpiryWarning: 30 * 24 * time.Hour}
}

func (c *Config) setDefaults() {
	d := DefaultConfig()
	if c.Profile == "" {
		c.Profile = d.Profile
	}
	if c.ReloadInterval == 0 {
		c.ReloadInterval = d.ReloadInterval
	}
	if c.ExpiryWarning == 0 {
		c.ExpiryWarning = d.ExpiryWarning
	}
	if c.Server.ClientAuth == "" {
		c.Server.ClientAuth = ClientAuthNone
		if c.Server.ClientCAFile != "" {
			c.Server.ClientAuth = ClientAuthRequire
		}
	}
}

func (c Config) name(field string) string {
	if n, ok := c.Flags[field]; ok {
		return n
	}
	return field
}

// Validate reports every problem of the settings, each naming its setting and, for what Go
// cannot do, saying so. It does not read the files: New does.
func (c Config) Validate() error {
	c.setDefaults()
	var errs []error
	if _, err := c.resolve(); err != nil {
		errs = append(errs, err)
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, fmt.Errorf("%s and %s: give both or neither", c.name("CertFile"), c.name("KeyFile")))
	}
	if (c.Server.CertFile == "") != (c.Server.KeyFile == "") {
		errs = append(errs, fmt.Errorf("%s and %s: give both or neither", c.name("Server.CertFile"), c.name("Server.KeyFile")))
	}
	switch c.Server.ClientAuth {
	case ClientAuthNone:
	case ClientAuthRequest, ClientAuthRequire:
		if c.Server.ClientCAFile == "" {
			errs = append(errs, fmt.Errorf("%s %s needs %s", c.name("Server.ClientAuth"), c.Server.ClientAuth, c.name("Server.ClientCAFile")))
		}
		if !c.Server.On() {
			errs = append(errs, fmt.Errorf("%s %s needs %s and %s", c.name("Server.ClientAuth"), c.Server.ClientAuth,
				c.name("Server.CertFile"), c.name("Server.KeyFile")))
		}
	default:
		errs = append(errs, fmt.Errorf("%s %q is unknown (want none, request or require)", c.name("Server.ClientAuth"), c.Server.ClientAuth))
	}
	if c.ReloadInterval < 0 {
		errs = append(errs, fmt.Errorf("%s must not be negative", c.name("ReloadInterval")))
	}
	if c.ExpiryWarning < 0 {
		errs = append(errs, fmt.Errorf("%s must not be negative", c.name("ExpiryWarning")))
	}
	return errors.Join(errs...)
}

var versionFlags = map[string]uint16{"1.2": versionNames["TLSv1.2"], "1.3": versionNames["TLSv1.3"]}

// resolve is the profile the settings ask for, or every reason it cannot be had.
func (c Config) resolve() (profile, error) {
	switch c.Profile {
	case ProfileModern, ProfileIntermediate:
		var errs []error
		for field, set := range map[string]bool{"MinVersion": c.MinVersion != "", "MaxVersion": c.MaxVersion != "", "CipherSuites": len(c.CipherSuites) > 0} {
			if set {
				errs = append(errs, fmt.Errorf("%s is set, but %s is %s: only a custom profile may narrow versions and suites",
					c.name(field), c.name("Profile"), c.Profile))
			}
		}
		if len(errs) > 0 {
			slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
			return profile{}, errors.Join(errs...)
		}
		return builtin(c.Profile)
	case ProfileCustom:
		return c.custom()
	default:
		return profile{}, fmt.Errorf("%s %q is unknown (want one of %s)", c.name("Profile"), c.Profile, strings.Join(Profiles, ", "))
	}
}

// custom narrows intermediate.
func (c Config) custom() (profile, error) {
	p, err := builtin(ProfileIntermediate)
	if err != nil {
		return profile{}, err
	}
	p.name = ProfileCustom
	var errs []error
	version := func(field, v string, into *uint16) {
		if v == "" {
			return
		}
		id, ok := versionFlags[strings.TrimPrefix(strings.TrimPrefix(v, "TLSv"), "TLS ")]
		switch {
		case ok:
			*into = id
		case v == "1.0" || v == "1.1" || v == "TLSv1.0" || v == "TLSv1.1":
			errs = append(errs, fmt.Errorf("%s %s: a version below TLS 1.2 is not allowed (Mozilla's intermediate profile starts at 1.2)", c.name(field), v))
		default:
			errs = append(errs, fmt.Errorf("%s %q is unknown (want 1.2 or 1.3)", c.name(field), v))
		}
	}
	version("MinVersion", c.MinVersion, &p.minVersion)
	version("MaxVersion", c.MaxVersion, &p.maxVersion)
	if p.minVersion > p.maxVersion {
		errs = append(errs, fmt.Errorf("%s %s is above %s %s", c.name("MinVersion"), c.MinVersion, c.name("MaxVersion"), c.MaxVersion))
	}
	if len(c.CipherSuites) > 0 {
		known := goSuites()
		var suites []uint16
		for _, name := range c.CipherSuites {
			id, ok := known[name]
			switch {
			case tls13Suite(name):
				errs = append(errs, fmt.Errorf("%s: %s is a TLS 1.3 suite, and Go does not let TLS 1.3 suites be chosen (it picks among all three)", c.name("CipherSuites"), name))
			case !ok:
				errs = append(errs, fmt.Errorf("%s: %q is not a cipher suite Go knows (IANA names, e.g. TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)", c.name("CipherSuites"), name))
			case !slices.Contains(p.suites, id):
				errs = append(errs, fmt.Errorf("%s: %s is not in the intermediate profile; a custom profile may only narrow it", c.name("CipherSuites"), name))
			default:
				suites = append(suites, id)
			}
		}
		p.suites = suites
	}
	if len(errs) > 0 {
		return profile{}, errors.Join(errs...)
	}
	return p, nil
}

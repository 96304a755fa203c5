package tlspolicy

import (
	"crypto/tls"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
)

// Profile names.
const (
	ProfileModern       = "modern"
	ProfileIntermediate = "intermediate"
	ProfileCustom       = "custom"
)

// Profiles are the names Config.Profile accepts.
var Profiles = []string{ProfileModern, ProfileIntermediate, ProfileCustom}

// mozillaJSON is Mozilla's server-side TLS guidelines as pinned in the repository: the profiles
// are read from it, so a change of profile is a change of this file, reviewed as such.
//
//go:embed profiles.json
var mozillaJSON []byte

// Guidelines are Mozilla's published profiles, as pinned.
type Guidelines struct {
	Source   string                    `json:"source"`
	Version  float64                   `json:"version"`
	Profiles map[string]MozillaProfile `json:"profiles"`
}

// MozillaProfile is one of Mozilla's profiles in its own vocabulary.
type MozillaProfile struct {
	TLSVersions  []string `json:"tls_versions"`
	CipherSuites []string `json:"ciphersuites"`
	Ciphers      []string `json:"ciphers"`
	Curves       []string `json:"tls_curves"`
	MaxCertDays  int      `json:"maximum_certificate_lifespan"`
}

// Pinned returns the pinned guidelines.
func Pinned() (Guidelines, error) {
	var g Guidelines
	if err := json.Unmarshal(mozillaJSON, &g); err != nil {
		return Guidelines{}, fmt.Errorf("pinned Mozilla guidelines: %w", err)
	}
	return g, nil
}

// profile is a profile as Go applies it.
type profile struct {
	name       string
	minVersion uint16
	maxVersion uint16
	// suites are the TLS 1.2 suites offered (Go chooses TLS 1.3's itself).
	suites []uint16
	curves []tls.CurveID
}

var versionNames = map[string]uint16{"TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13}

var curveNames = map[string]tls.CurveID{"X25519": tls.X25519, "prime256v1": tls.CurveP256, "secp384r1": tls.CurveP384}

// goSuites maps the IANA names of the TLS 1.2 suites Go implements to their ids.
func goSuites() map[string]uint16 {
	out := map[string]uint16{}
	for _, s := range tls.CipherSuites() {
		out[s.Name] = s.ID
	}
	for _, s := range tls.InsecureCipherSuites() {
		out[s.Name] = s.ID
	}
	return out
}

// tls13Suite reports whether name is a TLS 1.3 suite, which Go does not let a program choose.
func tls13Suite(name string) bool {
	for _, s := range tls.CipherSuites() {
		if s.Name == name && slices.Equal(s.SupportedVersions, []uint16{tls.VersionTLS13}) {
			return true
		}
	}
	return false
}

// fromMozilla is Mozilla's profile name as Go can apply it: the suites Go lacks (DHE) left out.
func fromMozilla(name string, m MozillaProfile) (profile, error) {
	p := profile{name: name}
	for _, v := range m.TLSVersions {
		id, ok := versionNames[v]
		if !ok {
			return profile{}, fmt.Errorf("profile %s: version %s is not one Go's policy applies", name, v)
		}
		if p.minVersion == 0 || id < p.minVersion {
			p.minVersion = id
		}
		p.maxVersion = max(p.maxVersion, id)
	}
	known := goSuites()
	for _, c := range m.Ciphers {
		if id, ok := known[c]; ok {
			p.suites = append(p.suites, id)
		}
	}
	for _, c := range m.Curves {
		id, ok := curveNames[c]
		if !ok {
			return profile{}, fmt.Errorf("profile %s: curve %s is unknown to Go", name, c)
		}
		p.curves = append(p.curves, id)
	}
	return p, nil
}

// builtin returns the named pinned profile (modern or intermediate).
func builtin(name string) (profile, error) {
	g, err := Pinned()
	if err != nil {
		return profile{}, err
	}
	m, ok := g.Profiles[name]
	if !ok {
		return profile{}, fmt.Errorf("profile %q is not pinned", name)
	}
	return fromMozilla(name, m)
}

// VersionName is a TLS version as people write it ("TLS 1.3").
func VersionName(v uint16) string { return tls.VersionName(v) }

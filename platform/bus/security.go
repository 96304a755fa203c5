package bus

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/omninode/omnibase-infra/platform/tlspolicy"
)

// SASL mechanisms a client here can authenticate with.
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
)

// Mechanisms are the SASL mechanisms Security accepts.
var Mechanisms = []string{MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512}

// Security is how a client connects to a Kafka cluster: over TLS, authenticated with SASL, both
// or neither. The zero value is plaintext without authentication. Every client this package
// builds (Sarama's and franz-go's) takes the same Security, so the control bus's clients cannot
// disagree about it.
type Security struct {
	// TLS of every connection to the brokers. Optional.
	TLS TLS
	// SASL authentication on every connection. Optional.
	SASL SASL
}

// TLS is a client's TLS configuration. It is on when Enabled or when any file is given.
type TLS struct {
	// Enabled turns TLS on with the system's roots when no CAFile is given. Default false.
	Enabled bool
	// CAFile is a PEM file of the certificates that sign the brokers'. Default: the system's.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key (mutual TLS). Optional: both
	// or neither.
	CertFile string
	KeyFile  string
	// ServerName is the name the brokers' certificates must carry. Default: the host dialled.
	ServerName string
	// Policy is the process's TLS policy, which builds every connection (profile, verification
	// of the chain and the name, files reloaded when they change). Default tlspolicy.Default().
	Policy *tlspolicy.Policy
	// Endpoint names the connections in the policy's metrics ("control-bus", "kafka/NAME").
	// Default "kafka".
	Endpoint string
}

// On reports whether connections use TLS.
func (t TLS) On() bool {
	return t.Enabled || t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != ""
}

// SASL is a client's SASL authentication. It is on when Mechanism is set.
type SASL struct {
	// Mechanism is one of Mechanisms. Default "": no SASL.
	Mechanism string
	// User to authenticate as. Required with a Mechanism.
	User string
	// Password of User. Required with a Mechanism.
	Password Secret
}

// Secret is a value that must never be printed: its String, GoString and LogValue hide it, so a
// Security logged or formatted by mistake shows no password. Reveal gives the value to the code
// that sends it.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// LogValue hides the value from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Validate reports every problem of the settings, each naming its field (TLS.CAFile,
// SASL.Mechanism, …); it reads the TLS files as connecting would.
func (s Security) Validate() error { return s.ValidateAs(nil) }

// ValidateAs is Validate with the fields called what the caller calls them: names maps a field
// ("TLS.CAFile", "TLS.CertFile", "TLS.KeyFile", "SASL.Mechanism", "SASL.User", "SASL.Password")
// to, say, its flag; a field it does not name keeps its own name. No error holds the password.
func (s Security) ValidateAs(names map[string]string) error {
	name := func(field string) string {
		if n, ok := names[field]; ok {
			return n
		}
		return field
	}
	var errs []error
	if s.TLS.On() {
		if _, err := s.TLS.dialer(name, 0); err != nil {
			errs = append(errs, err)
		}
	}
	m := s.SASL.Mechanism
	switch {
	case m == "":
		if s.SASL.User != "" || s.SASL.Password != "" {
			errs = append(errs, fmt.Errorf("%s is not set, but a SASL user or password is given (want one of %s)",
				name("SASL.Mechanism"), strings.Join(Mechanisms, ", ")))
		}
	case !slices.Contains(Mechanisms, m):
		errs = append(errs, fmt.Errorf("%s %q is unknown (want one of %s)", name("SASL.Mechanism"), m, strings.Join(Mechanisms, ", ")))
	default:
		if s.SASL.User == "" {
			errs = append(errs, fmt.Errorf("%s is not set (%s %s needs it)", name("SASL.User"), name("SASL.Mechanism"), m))
		}
		if s.SASL.Password == "" {
			errs = append(errs, fmt.Errorf("%s is not set (%s %s needs it)", name("SASL.Password"), name("SASL.Mechanism"), m))
		}
	}
	return errors.Join(errs...)
}

// dialer is the policy's dialer of the settings' connections; its errors name the field as name
// calls it.
func (t TLS) dialer(name func(string) string, timeout time.Duration) (*tlspolicy.Dialer, error) {
	p, endpoint := t.Policy, t.Endpoint
	if p == nil {
		p = tlspolicy.Default()
	}
	if endpoint == "" {
		endpoint = "kafka"
	}
	var errs []error
	files := tlspolicy.Files{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile}
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		errs = append(errs, fmt.Errorf("%s is given without %s: give both or neither", name("TLS.CertFile"), name("TLS.KeyFile")))
		files.CertFile = ""
	case t.KeyFile != "" && t.CertFile == "":
		errs = append(errs, fmt.Errorf("%s is given without %s: give both or neither", name("TLS.KeyFile"), name("TLS.CertFile")))
		files.KeyFile = ""
	}
	errs = append(errs, p.Load(files, map[string]string{"CAFile": name("TLS.CAFile"), "CertFile": name("TLS.CertFile"), "KeyFile": name("TLS.KeyFile")}))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p.Dialer(endpoint, t.ServerName, tlspolicy.Files{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile},
		net.Dialer{Timeout: timeout})
}

func fieldName(field string) string { return field }

// Sarama applies the settings to a Sarama configuration.
func (s Security) Sarama(cfg *sarama.Config) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("invalid Kafka security: %w", err)
	}
	if s.TLS.On() {
		// The policy's dialer makes the TLS connection, so Sarama's own TLS stays off.
		d, err := s.TLS.dialer(fieldName, cfg.Net.DialTimeout)
		if err != nil {
			return err
		}
		cfg.Net.TLS.Enable = false
		cfg.Net.Proxy.Enable, cfg.Net.Proxy.Dialer = true, d
	}
	if m := s.SASL.Mechanism; m != "" {
		cfg.Net.SASL.Enable = true
		cfg.Net.SASL.Mechanism = sarama.SASLMechanism(m)
		cfg.Net.SASL.User, cfg.Net.SASL.Password = s.SASL.User, s.SASL.Password.Reveal()
		switch m {
		case MechanismSCRAMSHA256:
			cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{sha512: false} }
		case MechanismSCRAMSHA512:
			cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{sha512: true} }
		}
	}
	return nil
}

// Franz returns the franz-go options of the settings.
func (s Security) Franz() ([]kgo.Opt, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("invalid Kafka security: %w", err)
	}
	var opts []kgo.Opt
	if s.TLS.On() {
		d, err := s.TLS.dialer(fieldName, 10*time.Second)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.Dialer(d.DialContext))
	}
	var mech sasl.Mechanism
	user, pass := s.SASL.User, s.SASL.Password.Reveal()
	switch s.SASL.Mechanism {
	case MechanismPlain:
		mech = plain.Auth{User: user, Pass: pass}.AsMechanism()
	case MechanismSCRAMSHA256:
		mech = scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
	case MechanismSCRAMSHA512:
		mech = scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
	}
	if mech != nil {
		opts = append(opts, kgo.SASL(mech))
	}
	return opts, nil
}

package bus

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
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
		if _, err := s.TLS.config(name); err != nil {
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

// config loads the files; its errors name the field as name calls it.
func (t TLS) config(name func(string) string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s: could not read the CA file: %w", name("TLS.CAFile"), err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate in %s", name("TLS.CAFile"), t.CAFile)
		}
	}
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		return nil, fmt.Errorf("%s is given without %s: give both or neither", name("TLS.CertFile"), name("TLS.KeyFile"))
	case t.KeyFile != "" && t.CertFile == "":
		return nil, fmt.Errorf("%s is given without %s: give both or neither", name("TLS.KeyFile"), name("TLS.CertFile"))
	case t.CertFile != "":
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s, %s: %w", name("TLS.CertFile"), name("TLS.KeyFile"), err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func fieldName(field string) string { return field }

// Sarama applies the settings to a Sarama configuration.
func (s Security) Sarama(cfg *sarama.Config) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("invalid Kafka security: %w", err)
	}
	if s.TLS.On() {
		tc, err := s.TLS.config(fieldName)
		if err != nil {
			return err
		}
		cfg.Net.TLS.Enable, cfg.Net.TLS.Config = true, tc
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
		tc, err := s.TLS.config(fieldName)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
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

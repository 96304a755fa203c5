package kafka

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/omninode/omnibase-infra/platform/bus"
)

// securityParams name the fields of a target's Security as ParseTarget's parameters do.
var securityParams = map[string]string{
	"TLS.CAFile":     "tls_ca",
	"TLS.CertFile":   "tls_cert",
	"TLS.KeyFile":    "tls_key",
	"SASL.Mechanism": "sasl_mechanism",
	"SASL.User":      "sasl_user",
	"SASL.Password":  "the SASL password (sasl_password_env or sasl_password_file)",
}

// parseSecurity reads a target's security parameters. Its errors name the parameter and never
// hold the password.
func parseSecurity(query string) (bus.Security, error) {
	params, err := url.ParseQuery(query)
	if err != nil {
		return bus.Security{}, fmt.Errorf("parameters: %w", err)
	}
	var sec bus.Security
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(params)) {
		v := params.Get(key)
		switch key {
		case "tls":
			if sec.TLS.Enabled, err = strconv.ParseBool(v); err != nil {
				errs = append(errs, fmt.Errorf("tls=%q: want true or false", v))
			}
		case "tls_ca":
			sec.TLS.CAFile = v
		case "tls_cert":
			sec.TLS.CertFile = v
		case "tls_key":
			sec.TLS.KeyFile = v
		case "tls_server_name":
			sec.TLS.ServerName = v
		case "sasl_mechanism":
			sec.SASL.Mechanism = v
		case "sasl_user":
			sec.SASL.User = v
		case "sasl_password_env":
			p, ok := os.LookupEnv(v)
			if !ok || p == "" {
				errs = append(errs, fmt.Errorf("sasl_password_env: environment variable %s is not set or empty", v))
			}
			sec.SASL.Password = bus.Secret(p)
		case "sasl_password_file":
			b, err := os.ReadFile(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("sasl_password_file: %w", err))
			}
			sec.SASL.Password = bus.Secret(strings.TrimRight(string(b), "\r\n"))
		default:
			errs = append(errs, fmt.Errorf("unknown parameter %q (known: tls, tls_ca, tls_cert, tls_key, tls_server_name, "+
				"sasl_mechanism, sasl_user, sasl_password_env, sasl_password_file)", key))
		}
	}
	return sec, errors.Join(errs...)
}

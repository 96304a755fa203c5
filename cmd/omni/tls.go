package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/internal/app"
)

func newTLSCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "tls", Short: "The TLS policy of omni run's connections"}
	cmd.AddCommand(newTLSCheckCmd(g))
	return cmd
}

// tlsCheckDoc is omni tls check's document.
type tlsCheckDoc struct {
	Policy    string         `json:"policy"`
	Endpoints []app.TLSCheck `json:"endpoints"`
}

func newTLSCheckCmd(g *globals) *cobra.Command {
	var r runFlags
	var out output
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Dial every endpoint omni run would use and print what each negotiates under the TLS policy",
		Long: `Dial every endpoint omni run would use with the same flags — the control database, the Kafka
brokers, the PostgreSQL, Kafka and Consul targets, the audit witness, Vault and omni's own HTTP
server (--http-addr, when it runs) — and print, for each, the TLS version and cipher suite it
negotiated, the server's certificate chain (subject, issuer, expiry) and whether it meets the
policy. An endpoint configured without TLS does not. Exits 1 when one does not meet the policy.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := g.logger()
			if err != nil {
				return err
			}
			cfg, err := r.config(g)
			if err != nil {
				return err
			}
			p, checks, err := app.CheckTLS(cmd.Context(), cfg, logger)
			if err != nil {
				return err
			}
			doc := tlsCheckDoc{Policy: p.Describe(), Endpoints: checks}
			if err := out.print(cmd.OutOrStdout(), doc, checks, func(w io.Writer, wide bool) error {
				return writeTable(w, wide, tlsColumns(time.Now()), checks)
			}); err != nil {
				return err
			}
			failed := 0
			for _, c := range checks {
				if !c.MeetsPolicy {
					failed++
				}
			}
			if failed > 0 {
				return withCode(exitFailed, fmt.Errorf("%d of %d endpoints do not meet the TLS policy", failed, len(checks)))
			}
			return nil
		},
	}
	r.register(cmd, app.DefaultConfig().Adapters.ProbeInterval)
	addOutput(cmd, &out)
	return cmd
}

func tlsColumns(now time.Time) []column[app.TLSCheck] {
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	return []column[app.TLSCheck]{
		{name: "endpoint", value: func(c app.TLSCheck) string { return c.Endpoint }},
		{name: "addr", value: func(c app.TLSCheck) string { return c.Addr }},
		{name: "version", value: func(c app.TLSCheck) string { return dash(c.Version) }},
		{name: "cipher_suite", value: func(c app.TLSCheck) string { return dash(c.CipherSuite) }},
		{name: "chain", max: 60, value: func(c app.TLSCheck) string {
			var parts []string
			for _, cert := range c.Chain {
				parts = append(parts, fmt.Sprintf("%s (issuer %s, expires %s)", cert.Subject, cert.Issuer, relative(cert.NotAfter, now)))
			}
			return dash(strings.Join(parts, " <- "))
		}},
		{name: "meets_policy", value: func(c app.TLSCheck) string { return fmt.Sprint(c.MeetsPolicy) }},
		{name: "problem", max: 80, value: func(c app.TLSCheck) string { return dash(c.Problem) }},
	}
}

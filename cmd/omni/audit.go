package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/bus"
	"github.com/omninode/omnibase-infra/platform/merkle"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

func newAuditCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "The tamper-evident audit log: keys, checkpoints, verification and proofs"}
	cmd.AddCommand(newAuditKeygenCmd(), newAuditCheckpointCmd(g), newAuditVerifyCmd(g), newAuditProveCmd(g), newAuditReportCmd(g), newAuditHashCmd())
	return cmd
}

func newAuditKeygenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keygen FILE",
		Short: "Write a new Ed25519 checkpoint key to FILE (mode 0600; keep it out of the control database) and print its public key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			seed := make([]byte, ed25519.SeedSize)
			if _, err := rand.Read(seed); err != nil {
				return err
			}
			f, err := os.OpenFile(args[0], os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("could not create the key file: %w", err)
			}
			if _, err := fmt.Fprintln(f, base64.StdEncoding.EncodeToString(seed)); err != nil {
				f.Close()
				return fmt.Errorf("could not write the key file: %w", err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("could not write the key file: %w", err)
			}
			s, err := audit.NewSigner(seed)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "key %s, public key %s\n", s.KeyID(), base64.StdEncoding.EncodeToString(s.Public()))
			return nil
		},
	}
}

func newAuditCheckpointCmd(g *globals) *cobra.Command {
	var keyFile, consulWitness string
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Sign the audit log's size and tree head now, and publish the checkpoint to its witnesses",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := audit.LoadSigner(keyFile)
			if err != nil {
				return err
			}
			db, err := g.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			sealer, _, err := g.seal.open(cmd.Context(), db)
			if err != nil {
				return err
			}
			c, err := audit.Sign(cmd.Context(), db, s.SealWith(sealer), time.Now())
			if err != nil {
				return err
			}
			if consulWitness != "" {
				w, err := audit.NewConsulWitness(consulWitness, "")
				if err != nil {
					return err
				}
				latest, err := audit.Latest(cmd.Context(), db)
				if err != nil {
					return err
				}
				if err := audit.WitnessLatest(cmd.Context(), latest, []audit.Witness{w}, nil); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "checkpoint of %d entries: head %s, key %s\n", c.Size, c.Root, s.KeyID())
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "key-file", "", "the checkpoint key (omni audit keygen)")
	cmd.Flags().StringVar(&consulWitness, "consul-witness", "", "a Consul agent (HOST:PORT) whose KV keeps the checkpoint too")
	_ = cmd.MarkFlagRequired("key-file")
	return cmd
}

// errAuditFailed is the error of a verification that found a problem: exit status 1, the report
// already printed.
var errAuditFailed = errors.New("the audit log does not verify")

func newAuditVerifyCmd(g *globals) *cobra.Command {
	var vf verifyFlags
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the audit log's tree, hold it to every signed checkpoint (the database's and the Kafka witness's), and name the first entry that is wrong",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := vf.open(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer v.db.Close()
			r, err := audit.Verify(cmd.Context(), v.db, v.pub, v.witnessed)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%d entries, head %s; %d checkpoints (%d from witnesses)\n", r.Entries, r.Root, r.Checkpoints, len(v.witnessed))
			if r.Problem != nil {
				fmt.Fprintf(out, "NOT VERIFIED: %s\n", r.Problem.Error())
				return errAuditFailed
			}
			if r.Verified.Size == 0 {
				fmt.Fprintln(out, "verified: every entry hashes to its leaf; no checkpoint yet, so a rewrite of the whole log would not show")
				return nil
			}
			fmt.Fprintf(out, "verified: entries 1 to %d match the checkpoint signed %s; entries after it hash to their leaves\n",
				r.Verified.Size, r.Verified.SignedAt.Format(time.RFC3339))
			return nil
		},
	}
	vf.register(cmd)
	return cmd
}

// verifyFlags are how omni audit verify and report find what they verify with: the checkpoint
// key and the Consul witness.
type verifyFlags struct{ keyFile, publicKey, consulWitness string }

func (f *verifyFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.keyFile, "key-file", "", "the checkpoint key, whose public half verifies")
	cmd.Flags().StringVar(&f.publicKey, "public-key", "", "the checkpoint key's public half, base64 (instead of --key-file)")
	cmd.Flags().StringVar(&f.consulWitness, "consul-witness", "", "a Consul agent (HOST:PORT) whose KV witnesses the checkpoints (omni run --audit-consul-witness)")
}

// verification is what a verification reads: the checkpoints' public key, the control
// database (the caller closes it) and the witnesses' checkpoints.
type verification struct {
	pub       ed25519.PublicKey
	db        *pgxpool.Pool
	witnessed []audit.Checkpoint
}

func (f *verifyFlags) open(ctx context.Context, g *globals) (verification, error) {
	pub, err := verifyKey(f.keyFile, f.publicKey)
	if err != nil {
		return verification{}, err
	}
	db, err := g.connect(ctx)
	if err != nil {
		return verification{}, err
	}
	witnessed, err := readWitnesses(ctx, g, f.consulWitness)
	if err != nil {
		db.Close()
		return verification{}, err
	}
	return verification{pub: pub, db: db, witnessed: witnessed}, nil
}

func verifyKey(keyFile, publicKey string) (ed25519.PublicKey, error) {
	switch {
	case publicKey != "":
		raw, err := base64.StdEncoding.DecodeString(publicKey)
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, usageError("--public-key: want a base64 Ed25519 public key (omni audit keygen prints it)")
		}
		return ed25519.PublicKey(raw), nil
	case keyFile != "":
		s, err := audit.LoadSigner(keyFile)
		if err != nil {
			return nil, err
		}
		return s.Public(), nil
	}
	return nil, usageError("--key-file or --public-key is required: the checkpoints are verified with it")
}

// readWitnesses reads the checkpoints of every witness configured: the Kafka topic when brokers
// are, Consul KV when consulAddr is.
func readWitnesses(ctx context.Context, g *globals, consulAddr string) ([]audit.Checkpoint, error) {
	var witnessed []audit.Checkpoint
	if brokers := g.brokers(); len(brokers) > 0 {
		sec, err := g.security()
		if err != nil {
			return nil, err
		}
		if witnessed, err = kafkaWitness(ctx, brokers, sec); err != nil {
			return nil, err
		}
	}
	if consulAddr != "" {
		w, err := audit.NewConsulWitness(consulAddr, "")
		if err != nil {
			return nil, err
		}
		held, err := w.Checkpoints(ctx)
		if err != nil {
			return nil, err
		}
		witnessed = append(witnessed, held...)
	}
	return witnessed, nil
}

// kafkaWitness reads every checkpoint on the audit topic.
func kafkaWitness(ctx context.Context, brokers []string, sec bus.Security) ([]audit.Checkpoint, error) {
	var out []audit.Checkpoint
	_, _, err := bus.ReadTopic(ctx, brokers, sec, audit.Topic, nil, func(msg *message.Message) error {
		_, m, err := events.Catalog().Decode(msg)
		if err != nil {
			return nil // not a checkpoint: nothing it can witness
		}
		if e, ok := m.(events.AuditCheckpointed); ok {
			c, err := audit.FromEvent(e, "kafka")
			if err != nil {
				return fmt.Errorf("checkpoint %s on %s: %w", msg.UUID, audit.Topic, err)
			}
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		return nil, unreachable(fmt.Errorf("could not read the audit witness on Kafka: %w", err))
	}
	return out, nil
}

func newAuditProveCmd(g *globals) *cobra.Command {
	var size int64
	cmd := &cobra.Command{
		Use:   "prove SEQ",
		Short: "Print the inclusion proof of audit entry SEQ in the tree of --size entries (default: the whole log)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var seq int64
			if _, err := fmt.Sscan(args[0], &seq); err != nil {
				return usageError("SEQ %q: want an entry's number", args[0])
			}
			db, err := g.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			p, err := audit.Prove(cmd.Context(), db, seq, size)
			if err != nil {
				return err
			}
			path := make([]string, len(p.Path))
			for i, h := range p.Path {
				path[i] = h.String()
			}
			check := "verifies (RFC 6962 inclusion proof)"
			if err := merkle.VerifyInclusion(int(p.Seq-1), int(p.Size), p.Leaf, p.Path, p.Root); err != nil {
				check = err.Error()
			}
			return writeJSON(cmd.OutOrStdout(), struct {
				Seq   int64    `json:"seq"`
				Size  int64    `json:"size"`
				Leaf  string   `json:"leaf"`
				Root  string   `json:"root"`
				Proof []string `json:"proof"`
				Check string   `json:"check"`
			}{p.Seq, p.Size, p.Leaf.String(), p.Root.String(), path, check})
		},
	}
	cmd.Flags().Int64Var(&size, "size", 0, "the tree size the proof is for: a checkpoint's, to prove against its signed head")
	return cmd
}

func newAuditReportCmd(g *globals) *cobra.Command {
	var vf verifyFlags
	var since, until, format string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "The compliance report of a period: who did what and how it ended, counts by actor, action and outcome, the security events, and the verified checkpoint that covers it",
		Long: "Verifies the audit log first (as omni audit verify does, the Kafka witness included when --kafka-brokers is set), " +
			"then reports the entries appended from --since up to --until, and says plainly whether a verified checkpoint covers them. " +
			"--since and --until take a time (RFC 3339, or a date 2006-01-02) or a duration back from now (24h).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			from, err := reportTime("--since", since, now)
			if err != nil {
				return err
			}
			to, err := reportTime("--until", until, now)
			if err != nil {
				return err
			}
			if format != audit.FormatJSON && format != audit.FormatCSV && format != audit.FormatMarkdown {
				return usageError("-o %q: want json, csv or markdown", format)
			}
			v, err := vf.open(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer v.db.Close()
			r, err := audit.BuildReport(cmd.Context(), v.db, v.pub, v.witnessed, from, to)
			if err != nil {
				return err
			}
			if err := r.Write(cmd.OutOrStdout(), format); err != nil {
				return err
			}
			if !r.Coverage.Verified {
				return errAuditFailed
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&since, "since", "24h", "the period's start: a time (RFC 3339 or 2006-01-02) or a duration back from now")
	cmd.Flags().StringVar(&until, "until", "0s", "the period's end, excluded: a time or a duration back from now (0s: now)")
	cmd.Flags().StringVarP(&format, "output", "o", audit.FormatMarkdown, "json, csv or markdown")
	vf.register(cmd)
	return cmd
}

// reportTime reads a report's bound: an RFC 3339 time, a date, or a duration back from now.
func reportTime(flag, value string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, value); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, value); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(value); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usageError("%s %q: want a time (2026-12-01T00:00:00Z or 2026-12-01) or a duration back from now (24h)", flag, value)
}

// auditHMACKeyEnv names the audit HMAC key file for omni cmd, as --audit-hmac-key-file does for
// omni run and omni audit hash.
const auditHMACKeyEnv = "OMNI_AUDIT_HMAC_KEY_FILE"

// auditHasherFromEnv is the audit HMAC key of OMNI_AUDIT_HMAC_KEY_FILE; nil when it is not set
// (the secret values of a command are then withheld from its audit entry).
func auditHasherFromEnv() (*audit.Hasher, error) {
	file := os.Getenv(auditHMACKeyEnv)
	if file == "" {
		return nil, nil
	}
	return audit.LoadHasher(file)
}

func newAuditHashCmd() *cobra.Command {
	var keyFile string
	cmd := &cobra.Command{
		Use:   "hash VALUE",
		Short: "Print VALUE's keyed HMAC as the audit log keeps secret values (hmac-sha256:<hex>), to find the entries that hold it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyFile == "" {
				return usageError("%s", "--audit-hmac-key-file (or "+auditHMACKeyEnv+") is required: the HMAC is keyed")
			}
			h, err := audit.LoadHasher(keyFile)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), h.Hash(args[0]))
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "audit-hmac-key-file", "", "the audit HMAC key: 32 bytes or more, base64 (head -c 32 /dev/urandom | base64)")
	bindEnv(cmd.Flags(), nil)
	return cmd
}

// operator names who runs this omni for the audit log: "alice@ops-1 (omni cmd)".
func operator(tool string) string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s@%s (%s)", name, host, tool)
}

// recordOperatorAction appends what an operator did to the audit log.
func recordOperatorAction(ctx context.Context, db pgtx.Beginner, e audit.Entry) error {
	err := pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		_, err := audit.Append(ctx, tx, e)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s done, but it could not be recorded in the audit log: %w", e.Action, err)
	}
	return nil
}

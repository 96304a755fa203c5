package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/platform/seal"
)

// kekEnv holds the key-encryption key itself; like a password, it is never a flag.
const kekEnv = "OMNI_SEAL_KEK"

// sealFlags say where the key-encryption key comes from, for every command that publishes or
// reads messages.
type sealFlags struct {
	kekFile      string
	vaultTransit string
	disabled     bool
}

func (s *sealFlags) register(f *pflag.FlagSet) {
	f.StringVar(&s.kekFile, "seal-kek-file", "", "file holding the key-encryption key that wraps the data and MAC keys (omni keys new-kek makes one; the key itself: env "+kekEnv+", never a flag)")
	f.StringVar(&s.vaultTransit, "seal-vault-transit-key", "", "a key of Vault's transit engine, KEY or MOUNT/KEY, as the key-encryption key: Vault wraps the data and MAC keys and the KEK never leaves it (Vault from VAULT_ADDR and VAULT_TOKEN, or --vault-addr and --vault-token-file)")
	f.BoolVar(&s.disabled, "seal-disabled", false, "INSECURE, for tests only: neither encrypt, sign nor verify messages")
}

func (s *sealFlags) config() app.SealConfig {
	return app.SealConfig{KEKFile: s.kekFile, KEK: os.Getenv(kekEnv), VaultTransit: s.vaultTransit, Disabled: s.disabled}
}

// open returns the sealer (nil when sealing is disabled) and the catalog that opens with it.
func (s *sealFlags) open(ctx context.Context, db seal.DB) (outbox.Sealer, *events.Registry, error) {
	sealer, err := app.OpenSeal(ctx, s.config(), db)
	if err != nil {
		return nil, nil, err
	}
	if sealer == nil {
		return nil, events.Catalog(), nil
	}
	return sealer, events.Catalog().WithOpener(sealer), nil
}

func (s *sealFlags) store(db seal.DB) (*seal.Store, error) {
	kek, err := s.config().KeyWrapper()
	if err != nil {
		return nil, err
	}
	return seal.NewStore(db, kek), nil
}

func newKeysCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "the keys that seal sensitive fields and sign messages: list, rotate, rewrap, retire"}
	var (
		out   output
		grace time.Duration
	)
	list := &cobra.Command{Use: "list", Short: "list the keys (never their secrets)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := g.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			keys, err := seal.NewStore(db, nil).List(cmd.Context())
			if err != nil {
				return err
			}
			rows := make([]keyRow, 0, len(keys))
			for _, k := range keys {
				r := keyRow{ID: k.ID, Purpose: string(k.Purpose), State: string(k.State), CreatedAt: k.CreatedAt}
				if !k.DemotedAt.IsZero() && k.DemotedAt.Unix() > 0 {
					d := k.DemotedAt
					r.DemotedAt = &d
				}
				rows = append(rows, r)
			}
			now := time.Now()
			return out.print(cmd.OutOrStdout(), rows, rows, func(w io.Writer, wide bool) error {
				return writeTable(w, wide, []column[keyRow]{
					{name: "id", value: func(r keyRow) string { return r.ID }},
					{name: "purpose", value: func(r keyRow) string { return r.Purpose }},
					{name: "state", value: func(r keyRow) string { return r.State }},
					{name: "created_at", value: func(r keyRow) string { return tableTime(r.CreatedAt, now) }},
					{name: "demoted_at", wide: true, value: func(r keyRow) string {
						if r.DemotedAt == nil {
							return ""
						}
						return tableTime(*r.DemotedAt, now)
					}},
				}, rows)
			})
		}}
	addOutput(list, &out)

	rotate := &cobra.Command{Use: "rotate", Short: "make a new primary data key and MAC key; the old ones stay readable", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			db, err := g.connect(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			store, err := g.seal.store(db)
			if err != nil {
				return err
			}
			var data, mac string
			err = pgtx.Run(ctx, db, func(tx pgx.Tx) error {
				if data, mac, err = store.Rotate(ctx, tx); err != nil {
					return err
				}
				return appendKeyEntry(ctx, tx, "keys.rotated", data+","+mac, map[string]string{"data_key": data, "mac_key": mac})
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "new primary keys: data %s, mac %s (processes take them within %s)\n", data, mac, seal.DefaultRefresh)
			return nil
		}}

	rewrap := &cobra.Command{Use: "rewrap", Short: "seal the stored rows (outbox, event log, poison) again under the primary keys", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			db, err := g.connect(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			sealer, err := app.OpenSeal(ctx, g.seal.config(), db)
			if err != nil {
				return err
			}
			if sealer == nil {
				return usageError("nothing to rewrap with sealing disabled (--seal-disabled)")
			}
			rep, err := outbox.Rewrap(ctx, db, sealer, events.DefaultTopics().PoisonSuffix, audit.RecordRewrap(operator("omni keys")))
			if err != nil {
				return err
			}
			err = pgtx.Run(ctx, db, func(tx pgx.Tx) error {
				return appendKeyEntry(ctx, tx, "keys.rewrapped", "seal_keys", map[string]string{
					"event_log": strconv.FormatInt(rep.EventLog, 10), "outbox": strconv.FormatInt(rep.Outbox, 10),
					"poison": strconv.FormatInt(rep.Poison, 10), "poison_skipped": strconv.FormatInt(rep.Skipped, 10)})
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rewrapped: %d event log rows, %d outbox rows, %d poison records (%d unsigned or unauthenticated rows left as they are)\n",
				rep.EventLog, rep.Outbox, rep.Poison, rep.Skipped)
			return nil
		}}

	retire := &cobra.Command{Use: "retire ID", Short: "erase an old key; refused while any stored row still needs it", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, err := g.connect(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			err = pgtx.Run(ctx, db, func(tx pgx.Tx) error {
				inUse := func(ctx context.Context, tx pgx.Tx, k seal.KeyInfo) (int64, string, error) {
					return outbox.KeyUse(ctx, tx, events.DefaultTopics().PoisonSuffix, string(k.Purpose), k.ID)
				}
				if err := seal.NewStore(db, nil).Retire(ctx, tx, args[0], grace, inUse); err != nil {
					return err
				}
				return appendKeyEntry(ctx, tx, "keys.retired", args[0], map[string]string{"key": args[0]})
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "retired key %s\n", args[0])
			return nil
		}}

	newKEK := &cobra.Command{Use: "new-kek", Short: "print a fresh key-encryption key (base64) for --seal-kek-file or " + kekEnv, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := seal.NewKEKText()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), k)
			return nil
		}}
	retire.Flags().DurationVar(&grace, "grace", 2*seal.DefaultRefresh,
		"how long after a rotation a key is still refused: processes seal with it until their keys refresh (every "+seal.DefaultRefresh.String()+" by default)")
	cmd.AddCommand(list, rotate, rewrap, retire, newKEK)
	return cmd
}

func appendKeyEntry(ctx context.Context, tx pgx.Tx, action, subject string, detail map[string]string) error {
	_, err := audit.Append(ctx, tx, audit.Entry{Actor: operator("omni keys"), Action: action, Subject: subject, Outcome: "done", Detail: detail})
	return err
}

// keyRow is a key as omni keys list prints it: never its secret.
type keyRow struct {
	ID        string     `json:"id"`
	Purpose   string     `json:"purpose"`
	State     string     `json:"state"`
	CreatedAt time.Time  `json:"created_at"`
	DemotedAt *time.Time `json:"demoted_at,omitempty"`
}

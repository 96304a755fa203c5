package seal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// DB is what the store needs of the control database (*pgxpool.Pool is one).
type DB interface {
	pgtx.Beginner
	pgtx.Querier
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Store keeps the keyring in seal_keys, each secret wrapped by KEK.
type Store struct {
	db  DB
	kek KeyWrapper
}

// NewStore reads and writes keys in db, wrapped by kek.
func NewStore(db DB, kek KeyWrapper) *Store { return &Store{db: db, kek: kek} }

// KeyInfo is what `omni keys list` shows of a key: never its secret.
type KeyInfo struct {
	ID        string    `json:"id"`
	Purpose   Purpose   `json:"purpose"`
	State     State     `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	DemotedAt time.Time `json:"demoted_at,omitzero"`
	RetiredAt time.Time `json:"retired_at,omitzero"`
}

// List returns every key, retired ones included, oldest first.
func (s *Store) List(ctx context.Context) ([]KeyInfo, error) {
	rows, err := s.db.Query(ctx, `SELECT id, purpose, state, created_at, demoted_at, retired_at FROM seal_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("could not list the keys: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (KeyInfo, error) {
		var (
			k                KeyInfo
			demoted, retired *time.Time
		)
		err := r.Scan(&k.ID, &k.Purpose, &k.State, &k.CreatedAt, &demoted, &retired)
		if demoted != nil {
			k.DemotedAt = *demoted
		}
		if retired != nil {
			k.RetiredAt = *retired
		}
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("could not list the keys: %w", err)
	}
	return out, nil
}

// Load reads and unwraps every key not retired: the keyring's Loader.
func (s *Store) Load(ctx context.Context) ([]Key, error) {
	rows, err := s.db.Query(ctx, `SELECT id, purpose, state, created_at, coalesce(demoted_at, 'epoch'), wrapped
		FROM seal_keys WHERE state <> 'retired'`)
	if err != nil {
		return nil, fmt.Errorf("could not read the keys: %w", err)
	}
	type row struct {
		k       Key
		wrapped []byte
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.k.ID, &x.k.Purpose, &x.k.State, &x.k.CreatedAt, &x.k.DemotedAt, &x.wrapped)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("could not read the keys: %w", err)
	}
	out := make([]Key, 0, len(got))
	for _, x := range got {
		secret, err := s.kek.Unwrap(ctx, x.wrapped)
		if err != nil {
			return nil, fmt.Errorf("could not unwrap key %s: %w", x.k.ID, err)
		}
		x.k.secret = secret
		out = append(out, x.k)
	}
	return out, nil
}

// Ensure makes a primary data key and a primary MAC key when there is none (the first start);
// concurrent starts make one each.
func (s *Store) Ensure(ctx context.Context) error {
	for _, p := range []Purpose{PurposeData, PurposeMAC} {
		err := pgtx.Run(ctx, s.db, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `LOCK TABLE seal_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM seal_keys WHERE purpose = $1 AND state = 'primary'`, p).Scan(&n); err != nil || n > 0 {
				return err
			}
			_, err := s.insertPrimary(ctx, tx, p)
			return err
		})
		if err != nil {
			return fmt.Errorf("could not make the first %s key: %w", p, err)
		}
	}
	return nil
}

func (s *Store) insertPrimary(ctx context.Context, tx pgx.Tx, p Purpose) (string, error) {
	secret := make([]byte, KeySize)
	idb := make([]byte, 4)
	if _, err := rand.Read(secret); err != nil {
		return "", err
	}
	if _, err := rand.Read(idb); err != nil {
		return "", err
	}
	id := string(p[0]) + time.Now().UTC().Format("20060102") + "-" + hex.EncodeToString(idb)
	wrapped, err := s.kek.Wrap(ctx, secret)
	if err != nil {
		return "", fmt.Errorf("could not wrap the new key: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE seal_keys SET state = 'active', demoted_at = now() WHERE purpose = $1 AND state = 'primary'`, p); err != nil {
		return "", err
	}
	_, err = tx.Exec(ctx, `INSERT INTO seal_keys (id, purpose, state, wrapped) VALUES ($1, $2, 'primary', $3)`, id, p, wrapped)
	return id, err
}

// Rotate makes a new primary data key and MAC key inside tx; the old primaries stay readable.
func (s *Store) Rotate(ctx context.Context, tx pgx.Tx) (data, mac string, err error) {
	if data, err = s.insertPrimary(ctx, tx, PurposeData); err != nil {
		return "", "", fmt.Errorf("could not rotate the data key: %w", err)
	}
	if mac, err = s.insertPrimary(ctx, tx, PurposeMAC); err != nil {
		return "", "", fmt.Errorf("could not rotate the MAC key: %w", err)
	}
	return data, mac, nil
}

// ErrKeyInUse: a key still seals or signs stored rows, or is the primary.
var ErrKeyInUse = errors.New("key still in use")

// Retire erases key id's secret inside tx, after inUse (how many stored rows still need it)
// says none does. The primary, and a key demoted less than grace ago (processes may still seal
// with it until their keyring refreshes), are refused.
func (s *Store) Retire(ctx context.Context, tx pgx.Tx, id string, grace time.Duration, inUse func(ctx context.Context, tx pgx.Tx, k KeyInfo) (int64, string, error)) error {
	var k KeyInfo
	var demoted *time.Time
	err := tx.QueryRow(ctx, `SELECT id, purpose, state, created_at, demoted_at FROM seal_keys WHERE id = $1 FOR UPDATE`, id).
		Scan(&k.ID, &k.Purpose, &k.State, &k.CreatedAt, &demoted)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("no key %q", id)
	}
	if err != nil {
		return fmt.Errorf("could not read key %s: %w", id, err)
	}
	switch {
	case k.State == StateRetired:
		return fmt.Errorf("key %s is retired already", id)
	case k.State == StatePrimary:
		return fmt.Errorf("%w: %s is the primary %s key; rotate first", ErrKeyInUse, id, k.Purpose)
	case demoted != nil && time.Since(*demoted) < grace:
		return fmt.Errorf("%w: %s stopped being primary %s ago; processes may seal with it for %s after", ErrKeyInUse, id,
			time.Since(*demoted).Round(time.Second), grace)
	}
	n, where, err := inUse(ctx, tx, k)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%w: %d stored row(s) still need %s (%s); run `omni keys rewrap` first", ErrKeyInUse, n, id, where)
	}
	_, err = tx.Exec(ctx, `UPDATE seal_keys SET state = 'retired', wrapped = NULL, retired_at = now() WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("could not retire key %s: %w", id, err)
	}
	return nil
}

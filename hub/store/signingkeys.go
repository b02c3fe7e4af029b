package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SigningKey is a key that signs id tokens.
type SigningKey struct {
	KID        string
	Alg        string // RS256 or ES256
	PrivateKey []byte // PKCS#8 DER
	CreatedAt  time.Time
}

// SigningKeys lists the stored signing keys, newest first.
func (s *Store) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT kid, alg, private_key, created_at FROM signing_keys ORDER BY created_at DESC, id DESC LIMIT 100`)
	}, func(r pgx.CollectableRow) (SigningKey, error) {
		var k SigningKey
		err := r.Scan(&k.KID, &k.Alg, &k.PrivateKey, &k.CreatedAt)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	return out, nil
}

// AddSigningKey stores a new signing key, unless a key of its algorithm
// newer than notBefore exists already (another replica made one): it says
// whether it stored it.
func (s *Store) AddSigningKey(ctx context.Context, k SigningKey, notBefore time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO signing_keys (kid, alg, private_key)
		SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE alg = $2 AND created_at > $4)`,
		k.KID, k.Alg, k.PrivateKey, notBefore)
	if err != nil {
		return false, fmt.Errorf("add signing key: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// DeleteSigningKeys deletes the keys of an algorithm created before the
// given time, except its newest.
func (s *Store) DeleteSigningKeys(ctx context.Context, alg string, before time.Time) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM signing_keys WHERE alg = $1 AND created_at < $2
		AND id <> (SELECT id FROM signing_keys WHERE alg = $1 ORDER BY created_at DESC, id DESC LIMIT 1)`, alg, before); err != nil {
		return fmt.Errorf("delete signing keys: %w", err)
	}
	return nil
}

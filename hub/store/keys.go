package store

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// HubKey returns the named shared secret, creating a random 32-byte one the first
// time any replica asks. Every replica gets the same value.
func (s *Store) HubKey(ctx context.Context, name string) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	var key []byte
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO hub_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT value FROM hub_keys WHERE name = $1`, name).Scan(&key)
	})
	if err != nil {
		return nil, fmt.Errorf("hub key %s: %w", name, err)
	}
	return key, nil
}

// Teams lists every team.
func (s *Store) Teams(ctx context.Context) ([]Team, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT id, name, auth FROM teams ORDER BY name LIMIT 10000`)
	}, func(r pgx.CollectableRow) (Team, error) {
		var t Team
		err := r.Scan(&t.ID, &t.Name, &t.Auth)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("list teams: %w", err)
	}
	return out, nil
}

package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SaveToken keeps a token's claims under its hash until it expires, and
// drops tokens that expired.
func (s *Store) SaveToken(ctx context.Context, hash string, claims json.RawMessage, expires time.Time) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO user_tokens (hash, claims, expires_at) VALUES ($1, $2, $3)`, hash, string(claims), expires); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM user_tokens WHERE expires_at < now()`)
		return err
	})
	if err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	return nil
}

// TokenClaims returns the claims of a token that exists and has not
// expired, or ErrNotFound.
func (s *Store) TokenClaims(ctx context.Context, hash string) (json.RawMessage, error) {
	var claims json.RawMessage
	err := s.row(ctx, `SELECT claims FROM user_tokens WHERE hash = $1 AND expires_at > now()`, hash).Scan(&claims)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	return claims, nil
}

// DeleteToken revokes a token.
func (s *Store) DeleteToken(ctx context.Context, hash string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM user_tokens WHERE hash = $1`, hash); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

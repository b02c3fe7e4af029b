package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// JoinToken is a join token managed at run time: spokes that show it join
// its team (the shared pool when TeamID is 0). Only its hash is stored.
type JoinToken struct {
	ID        int64
	Name      string
	TeamID    int64
	TeamName  string
	ExpiresAt *time.Time
	CreatedBy string
	CreatedAt time.Time
}

// HashToken is how a secret a spoke shows (a join token, its credential) is
// kept and found: its SHA-256, in hex.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ErrJoinTokenExists refuses a second active token of a name in a team.
var ErrJoinTokenExists = errors.New("a join token of that name exists")

const joinTokenColumns = `j.id, j.name, COALESCE(j.team_id, 0), COALESCE(t.name, ''), j.expires_at, j.created_by, j.created_at`

func scanJoinToken(r pgx.Row) (JoinToken, error) {
	var j JoinToken
	err := r.Scan(&j.ID, &j.Name, &j.TeamID, &j.TeamName, &j.ExpiresAt, &j.CreatedBy, &j.CreatedAt)
	return j, err
}

// teamOrNull is a team id as the column holds it: NULL for the pool.
func teamOrNull(teamID int64) any {
	if teamID == 0 {
		return nil
	}
	return teamID
}

// CreateJoinToken stores a new token's hash under a name of the team (0:
// the pool), expiring at expires when it is set.
func (s *Store) CreateJoinToken(ctx context.Context, teamID int64, name, hash, createdBy string, expires *time.Time) (JoinToken, error) {
	var j JoinToken
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM join_tokens WHERE COALESCE(team_id, 0) = $1 AND name = $2 AND revoked_at IS NULL`,
			teamID, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrJoinTokenExists
		}
		var err error
		j, err = scanJoinToken(tx.QueryRow(ctx, `WITH j AS (INSERT INTO join_tokens (name, team_id, token_hash, expires_at, created_by)
			VALUES ($1, $2, $3, $4, $5) RETURNING *)
			SELECT `+joinTokenColumns+` FROM j LEFT JOIN teams t ON t.id = j.team_id`, name, teamOrNull(teamID), hash, expires, createdBy))
		return err
	})
	if err != nil {
		return JoinToken{}, fmt.Errorf("create join token %s: %w", name, err)
	}
	return j, nil
}

// RotateJoinToken gives a token a new hash: the old token no longer joins.
func (s *Store) RotateJoinToken(ctx context.Context, teamID int64, name, hash string) (JoinToken, error) {
	var j JoinToken
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		var err error
		j, err = scanJoinToken(tx.QueryRow(ctx, `WITH j AS (UPDATE join_tokens SET token_hash = $3
			WHERE COALESCE(team_id, 0) = $1 AND name = $2 AND revoked_at IS NULL RETURNING *)
			SELECT `+joinTokenColumns+` FROM j LEFT JOIN teams t ON t.id = j.team_id`, teamID, name, hash))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return JoinToken{}, fmt.Errorf("rotate join token %s: %w", name, err)
	}
	return j, nil
}

// RevokeJoinToken stops a token's joins; spokes that joined with it stay.
func (s *Store) RevokeJoinToken(ctx context.Context, teamID int64, name string) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE join_tokens SET revoked_at = now() WHERE COALESCE(team_id, 0) = $1 AND name = $2 AND revoked_at IS NULL`, teamID, name)
		if err == nil && tag.RowsAffected() == 0 {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke join token %s: %w", name, err)
	}
	return nil
}

// JoinTokens lists a team's (0: the pool's) tokens that are not revoked,
// expired ones included.
func (s *Store) JoinTokens(ctx context.Context, teamID int64) ([]JoinToken, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT `+joinTokenColumns+` FROM join_tokens j LEFT JOIN teams t ON t.id = j.team_id
			WHERE COALESCE(j.team_id, 0) = $1 AND j.revoked_at IS NULL ORDER BY j.name LIMIT 1000`, teamID)
	}, func(r pgx.CollectableRow) (JoinToken, error) { return scanJoinToken(r) })
	if err != nil {
		return nil, fmt.Errorf("list join tokens: %w", err)
	}
	return out, nil
}

// JoinTokenByHash finds the token a spoke shows, if it may join now: not
// revoked, not expired by the database's clock.
func (s *Store) JoinTokenByHash(ctx context.Context, hash string) (JoinToken, error) {
	j, err := scanJoinToken(s.row(ctx, `SELECT `+joinTokenColumns+` FROM join_tokens j LEFT JOIN teams t ON t.id = j.team_id
		WHERE j.token_hash = $1 AND j.revoked_at IS NULL AND (j.expires_at IS NULL OR j.expires_at > now())`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return JoinToken{}, fmt.Errorf("join token: %w", ErrNotFound)
	}
	return j, err
}

// RevokeSpokeCredential voids a spoke's credential: its next call is
// refused, and it cannot join again under its name until its lease runs out
// (or it is pruned); its open steps move then, as a stalled spoke's.
func (s *Store) RevokeSpokeCredential(ctx context.Context, id int64) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE spokes SET credential_hash = '' WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke the credential of spoke %d: %w", id, err)
	}
	return nil
}

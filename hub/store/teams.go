package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Team is a row of teams.
type Team struct {
	ID   int64
	Name string
	Auth json.RawMessage
}

// SaveTeam creates the team or replaces its auth; it returns the team as stored.
func (s *Store) SaveTeam(ctx context.Context, name string, auth json.RawMessage) (Team, error) {
	if len(auth) == 0 {
		auth = json.RawMessage(`{}`)
	}
	return s.ChangeTeam(ctx, name, func(json.RawMessage) (json.RawMessage, error) { return auth, nil })
}

// ChangeTeam creates the team if it is missing and sets its auth to what
// change makes of the stored one ({} for a new team), in one transaction.
func (s *Store) ChangeTeam(ctx context.Context, name string, change func(auth json.RawMessage) (json.RawMessage, error)) (Team, error) {
	t := Team{Name: name}
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		var current json.RawMessage
		err := tx.QueryRow(ctx, `SELECT id, auth FROM teams WHERE name = $1 FOR UPDATE`, name).Scan(&t.ID, &current)
		if errors.Is(err, pgx.ErrNoRows) {
			current = json.RawMessage(`{}`)
		} else if err != nil {
			return err
		}
		next, err := change(current)
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `
			INSERT INTO teams (name, auth) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET auth = excluded.auth
			RETURNING id, auth`, name, string(next)).Scan(&t.ID, &t.Auth)
	})
	if err != nil {
		return Team{}, fmt.Errorf("change team %s: %w", name, err)
	}
	return t, nil
}

// TeamByName returns the team or ErrNotFound.
func (s *Store) TeamByName(ctx context.Context, name string) (Team, error) {
	t := Team{Name: name}
	err := s.row(ctx, `SELECT id, auth FROM teams WHERE name = $1`, name).Scan(&t.ID, &t.Auth)
	if errors.Is(err, pgx.ErrNoRows) {
		return Team{}, fmt.Errorf("team %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return Team{}, fmt.Errorf("get team %s: %w", name, err)
	}
	return t, nil
}

// ErrTeamExists is a rename to a name another team has.
var ErrTeamExists = errors.New("a team of that name exists")

// RenameTeam renames a team.
func (s *Store) RenameTeam(ctx context.Context, from, to string) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		var taken bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM teams WHERE name = $1)`, to).Scan(&taken); err != nil {
			return err
		}
		if taken {
			return ErrTeamExists
		}
		tag, err := tx.Exec(ctx, `UPDATE teams SET name = $2 WHERE name = $1`, from, to)
		if err == nil && tag.RowsAffected() == 0 {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("rename team %s: %w", from, err)
	}
	return nil
}

// DestroyTeam deletes a team and, in the same transaction, everything that
// is its: pipelines, builds and their steps and events, artifacts' rows,
// policies, and its spokes (whose credentials stop working at once).
func (s *Store) DestroyTeam(ctx context.Context, name string) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM teams WHERE name = $1`, name)
		if err == nil && tag.RowsAffected() == 0 {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("destroy team %s: %w", name, err)
	}
	return nil
}

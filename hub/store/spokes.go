package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Spoke is a row of spokes.
type Spoke struct {
	ID             int64
	Name           string
	TeamID         int64 // 0: a shared pool
	TeamName       string
	Runtime        string
	Labels         json.RawMessage
	Tags           []string // Concourse worker tags
	Capacity       json.RawMessage
	CredentialHash string
	State          string
	LeaseExpiresAt *time.Time
	LastSeen       *time.Time
	Expired        bool // the lease has expired by the database's clock
}

const spokeColumns = `s.id, s.name, COALESCE(s.team_id, 0), COALESCE(t.name, ''), s.runtime, s.labels, s.tags, s.capacity, s.credential_hash,
	s.state, s.lease_expires_at, s.last_seen, COALESCE(s.lease_expires_at < now(), true)`

func scanSpoke(row pgx.Row) (Spoke, error) {
	var sp Spoke
	err := row.Scan(&sp.ID, &sp.Name, &sp.TeamID, &sp.TeamName, &sp.Runtime, &sp.Labels, &sp.Tags, &sp.Capacity, &sp.CredentialHash,
		&sp.State, &sp.LeaseExpiresAt, &sp.LastSeen, &sp.Expired)
	return sp, err
}

// SpokeRegistration is what a spoke says of itself when it joins.
type SpokeRegistration struct {
	Name           string
	TeamID         int64 // 0: the shared pool
	Runtime        string
	Labels         json.RawMessage
	Tags           []string
	Capacity       json.RawMessage // {"cpu", "memory", "steps"}, as placement reads it
	CredentialHash string
}

// RegisterSpoke creates a spoke or, when it rejoins, replaces its credential.
func (s *Store) RegisterSpoke(ctx context.Context, reg SpokeRegistration, ttl time.Duration) (Spoke, error) {
	labels := reg.Labels
	if len(labels) == 0 {
		labels = json.RawMessage(`{}`)
	}
	tags, err := json.Marshal(append([]string{}, reg.Tags...))
	if err != nil {
		return Spoke{}, err
	}
	capacity := reg.Capacity
	if len(capacity) == 0 {
		capacity = json.RawMessage(`{}`)
	}
	var team *int64
	if reg.TeamID != 0 {
		team = &reg.TeamID
	}
	var id int64
	name := reg.Name
	err = s.Tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
			INSERT INTO spokes (name, team_id, runtime, labels, tags, capacity, credential_hash, state, lease_expires_at, last_seen)
			VALUES ($1, $2, $3, $4, $5, $8, $6, 'running', now() + $7 * INTERVAL '1 millisecond', now())
			ON CONFLICT (name) DO UPDATE SET team_id = excluded.team_id, runtime = excluded.runtime, labels = excluded.labels,
				tags = excluded.tags, capacity = excluded.capacity, credential_hash = excluded.credential_hash, state = 'running',
				lease_expires_at = excluded.lease_expires_at, last_seen = now()
			RETURNING id`, name, team, reg.Runtime, string(labels), string(tags), reg.CredentialHash, ttl.Milliseconds(), string(capacity)).Scan(&id)
	})
	if err != nil {
		return Spoke{}, fmt.Errorf("register spoke %s: %w", name, err)
	}
	return s.Spoke(ctx, id)
}

// RenewSpokeLease extends a spoke's lease by ttl from the database's now().
func (s *Store) RenewSpokeLease(ctx context.Context, id int64, ttl time.Duration) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE spokes SET lease_expires_at = now() + $2 * INTERVAL '1 millisecond', last_seen = now(), state = 'running'
			WHERE id = $1`, id, ttl.Milliseconds())
		return err
	})
	if err != nil {
		return fmt.Errorf("renew lease of spoke %d: %w", id, err)
	}
	return nil
}

// Spoke returns a spoke by id.
func (s *Store) Spoke(ctx context.Context, id int64) (Spoke, error) {
	sp, err := scanSpoke(s.row(ctx, `SELECT `+spokeColumns+` FROM spokes s LEFT JOIN teams t ON t.id = s.team_id WHERE s.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Spoke{}, fmt.Errorf("spoke %d: %w", id, ErrNotFound)
	}
	return sp, err
}

// Spokes lists every spoke.
func (s *Store) Spokes(ctx context.Context) ([]Spoke, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT `+spokeColumns+` FROM spokes s LEFT JOIN teams t ON t.id = s.team_id ORDER BY s.name LIMIT 10000`)
	}, func(r pgx.CollectableRow) (Spoke, error) { return scanSpoke(r) })
	if err != nil {
		return nil, fmt.Errorf("list spokes: %w", err)
	}
	return out, nil
}

// SpokeByCredentialHash finds the spoke a credential belongs to.
func (s *Store) SpokeByCredentialHash(ctx context.Context, hash string) (Spoke, error) {
	sp, err := scanSpoke(s.row(ctx, `SELECT `+spokeColumns+` FROM spokes s LEFT JOIN teams t ON t.id = s.team_id
		WHERE s.credential_hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return Spoke{}, fmt.Errorf("spoke credential: %w", ErrNotFound)
	}
	return sp, err
}

// SpokeByName returns a spoke by its name.
func (s *Store) SpokeByName(ctx context.Context, name string) (Spoke, error) {
	sp, err := scanSpoke(s.row(ctx, `SELECT `+spokeColumns+` FROM spokes s LEFT JOIN teams t ON t.id = s.team_id WHERE s.name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return Spoke{}, fmt.Errorf("spoke %s: %w", name, ErrNotFound)
	}
	return sp, err
}

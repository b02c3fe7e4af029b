package store

import (
	"context"
	"crypto/subtle"
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
	err := row.Scan(spokeFields(&sp)...)
	return sp, err
}

// spokeFields are the scan targets of spokeColumns.
func spokeFields(sp *Spoke) []any {
	return []any{&sp.ID, &sp.Name, &sp.TeamID, &sp.TeamName, &sp.Runtime, &sp.Labels, &sp.Tags, &sp.Capacity, &sp.CredentialHash,
		&sp.State, &sp.LeaseExpiresAt, &sp.LastSeen, &sp.Expired}
}

// SpokeRegistration is what a spoke says of itself when it joins.
type SpokeRegistration struct {
	Name           string
	TeamID         int64 // 0: the shared pool
	Runtime        string
	Labels         json.RawMessage
	Tags           []string
	Capacity       json.RawMessage // {"cpu", "memory", "steps"}, as placement reads it
	CredentialHash string          // the credential the spoke gets now
	// PreviousHash is the hash of the credential the spoke says it was given
	// before ("" for a spoke that shows none): only it takes back a name that
	// is in use.
	PreviousHash string
}

// ErrSpokeNameTaken is returned when a spoke joins under a name that another
// spoke holds and it cannot prove it is that spoke. Nothing was written.
var ErrSpokeNameTaken = errors.New("spoke name taken")

// SpokeJoin is what RegisterSpoke did.
type SpokeJoin struct {
	Spoke Spoke
	// Replaced is the id of a spoke whose lease had expired and whose name the
	// new one took as a new identity (0: none). Its open steps are still its
	// own: the caller ends them as lost.
	Replaced int64
}

// RegisterSpoke creates a spoke, or lets one come back. A spoke's identity is
// bound to the credential it was given: a join under a name in use keeps the
// row (and its steps) only when it shows that row's credential; a name whose
// spoke's lease has expired may be taken by a spoke without it, as a new
// identity (a new row; the old one is kept as gone, under another name, with
// its steps). A name never moves between teams or pools, and a live spoke's
// name is never taken.
func (s *Store) RegisterSpoke(ctx context.Context, reg SpokeRegistration, ttl time.Duration) (SpokeJoin, error) {
	labels := reg.Labels
	if len(labels) == 0 {
		labels = json.RawMessage(`{}`)
	}
	tags, err := json.Marshal(append([]string{}, reg.Tags...))
	if err != nil {
		return SpokeJoin{}, err
	}
	capacity := reg.Capacity
	if len(capacity) == 0 {
		capacity = json.RawMessage(`{}`)
	}
	var team *int64
	if reg.TeamID != 0 {
		team = &reg.TeamID
	}
	var id, replaced int64
	name := reg.Name
	err = s.Tx(ctx, func(tx pgx.Tx) error {
		id, replaced = 0, 0
		var held struct {
			id       int64
			team     int64
			teamName string
			hash     string
			expired  bool
		}
		err := tx.QueryRow(ctx, `SELECT s.id, COALESCE(s.team_id, 0), COALESCE(t.name, ''), s.credential_hash, COALESCE(s.lease_expires_at < now(), true)
			FROM spokes s LEFT JOIN teams t ON t.id = s.team_id WHERE s.name = $1 FOR UPDATE OF s`, name).
			Scan(&held.id, &held.team, &held.teamName, &held.hash, &held.expired)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		case held.team != reg.TeamID:
			owner := "the shared pool"
			if held.team != 0 {
				owner = "team " + held.teamName
			}
			return fmt.Errorf("%w: %q belongs to %s, and a name never moves between teams or pools: give this spoke another --name", ErrSpokeNameTaken, name, owner)
		case reg.PreviousHash != "" && held.hash != "" && subtle.ConstantTimeCompare([]byte(reg.PreviousHash), []byte(held.hash)) == 1:
			id = held.id // the same spoke, coming back
		case !held.expired:
			return fmt.Errorf("%w: %q is in use by a live spoke; a spoke coming back joins with the credential it was given (kept in its work directory), otherwise give it another --name", ErrSpokeNameTaken, name)
		default:
			// A new identity under the name of a spoke that stopped renewing
			// its lease: the old row keeps its steps under another name.
			if err := removeSpoke(ctx, tx, held.id); err != nil {
				return err
			}
			replaced = held.id
		}
		if id != 0 {
			_, err := tx.Exec(ctx, `UPDATE spokes SET runtime = $2, labels = $3, tags = $4, capacity = $5, credential_hash = $6, state = 'running',
				lease_expires_at = now() + $7 * INTERVAL '1 millisecond', last_seen = now() WHERE id = $1`,
				id, reg.Runtime, string(labels), string(tags), string(capacity), reg.CredentialHash, ttl.Milliseconds())
			return err
		}
		return tx.QueryRow(ctx, `
			INSERT INTO spokes (name, team_id, runtime, labels, tags, capacity, credential_hash, state, lease_expires_at, last_seen)
			VALUES ($1, $2, $3, $4, $5, $8, $6, 'running', now() + $7 * INTERVAL '1 millisecond', now())
			RETURNING id`, name, team, reg.Runtime, string(labels), string(tags), reg.CredentialHash, ttl.Milliseconds(), string(capacity)).Scan(&id)
	})
	if err != nil {
		return SpokeJoin{}, fmt.Errorf("register spoke %s: %w", name, err)
	}
	sp, err := s.Spoke(ctx, id)
	return SpokeJoin{Spoke: sp, Replaced: replaced}, err
}

// RenewSpokeLease extends a spoke's lease by ttl from the database's now()
// and returns its state; a spoke removed meanwhile (pruned, retired) is
// ErrNotFound.
func (s *Store) RenewSpokeLease(ctx context.Context, id int64, ttl time.Duration) (string, error) {
	var state string
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `UPDATE spokes SET lease_expires_at = now() + $2 * INTERVAL '1 millisecond', last_seen = now(),
			state = CASE WHEN state IN ('landing', 'landed', 'retiring') THEN state ELSE 'running' END
			WHERE id = $1 AND state <> 'gone' RETURNING state`, id, ttl.Milliseconds()).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("spoke %d: %w", id, ErrNotFound)
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("renew lease of spoke %d: %w", id, err)
	}
	return state, nil
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
		return s.reads.Query(ctx, `SELECT `+spokeColumns+` FROM spokes s LEFT JOIN teams t ON t.id = s.team_id WHERE s.state <> 'gone' ORDER BY s.name LIMIT 10000`)
	}, func(r pgx.CollectableRow) (Spoke, error) { return scanSpoke(r) })
	if err != nil {
		return nil, fmt.Errorf("list spokes: %w", err)
	}
	return out, nil
}

// SpokeByCredentialHash finds the spoke a credential belongs to.
func (s *Store) SpokeByCredentialHash(ctx context.Context, hash string) (Spoke, error) {
	sp, err := scanSpoke(s.row(ctx, `SELECT `+spokeColumns+` FROM spokes s LEFT JOIN teams t ON t.id = s.team_id
		WHERE s.credential_hash = $1 AND s.credential_hash <> '' AND s.state <> 'gone'`, hash))
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

// QuietSpoke is a spoke whose lease ran out while steps were open on it.
type QuietSpoke struct {
	ID       int64
	Name     string
	LastSeen time.Time
}

// QuietSpokes lists the spokes whose lease has run out, by the database's
// clock, that still have open (pending or running) steps: their steps are
// to be moved.
func (s *Store) QuietSpokes(ctx context.Context) ([]QuietSpoke, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT s.id, s.name, COALESCE(s.last_seen, s.created_at) FROM spokes s
			WHERE s.state <> 'gone' AND s.lease_expires_at < now()
			AND EXISTS (SELECT 1 FROM build_steps st WHERE st.spoke_id = s.id AND st.state IN ('pending', 'running'))
			ORDER BY s.id LIMIT 100`)
	}, func(r pgx.CollectableRow) (QuietSpoke, error) {
		var q QuietSpoke
		err := r.Scan(&q.ID, &q.Name, &q.LastSeen)
		return q, err
	})
	if err != nil {
		return nil, fmt.Errorf("list spokes that stopped answering: %w", err)
	}
	return out, nil
}

// Spoke states besides running and gone: a landing spoke takes no new steps
// and becomes landed once its open steps are done; a retiring one is
// removed (gone) then. Stalled is not stored: it is a running spoke whose
// lease ran out (WorkerState).
const (
	SpokeRunning  = "running"
	SpokeLanding  = "landing"
	SpokeLanded   = "landed"
	SpokeRetiring = "retiring"
	SpokeStalled  = "stalled"
)

// ErrSpokeRunning refuses to prune a spoke that is running.
var ErrSpokeRunning = errors.New("cannot prune running worker")

// LandSpoke drains a spoke: it takes no new steps, and is landed once its
// open steps are done (a landed spoke stays landed).
func (s *Store) LandSpoke(ctx context.Context, id int64) error {
	return s.setSpokeState(ctx, id, `CASE WHEN state = 'landed' THEN 'landed' ELSE 'landing' END`)
}

// RetireSpoke drains a spoke, then removes it.
func (s *Store) RetireSpoke(ctx context.Context, id int64) error {
	return s.setSpokeState(ctx, id, `'retiring'`)
}

func (s *Store) setSpokeState(ctx context.Context, id int64, state string) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE spokes SET state = `+state+` WHERE id = $1 AND state <> 'gone'`, id)
		if err == nil && tag.RowsAffected() == 0 {
			err = fmt.Errorf("spoke %d: %w", id, ErrNotFound)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("set state of spoke %d: %w", id, err)
	}
	return nil
}

// PruneSpoke removes a spoke that is not running (stalled by its lease,
// landed, landing or retiring), as Concourse prunes workers: its name is free
// again, its credential void, its row kept (renamed) for the steps it ran.
func (s *Store) PruneSpoke(ctx context.Context, id int64) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		var state string
		var expired bool
		err := tx.QueryRow(ctx, `SELECT state, COALESCE(lease_expires_at < now(), true) FROM spokes WHERE id = $1 AND state <> 'gone'`, id).Scan(&state, &expired)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("spoke %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if state == SpokeRunning && !expired {
			return ErrSpokeRunning
		}
		return removeSpoke(ctx, tx, id)
	})
	if err != nil {
		return fmt.Errorf("prune spoke %d: %w", id, err)
	}
	return nil
}

// removeSpoke marks a spoke gone under a name nobody can take.
func removeSpoke(ctx context.Context, tx pgx.Tx, id int64) error {
	_, err := tx.Exec(ctx, `UPDATE spokes SET name = name || '~gone~' || id::TEXT, state = 'gone', credential_hash = '' WHERE id = $1`, id)
	return err
}

// SettleDrains lands the landing spokes and removes the retiring ones whose
// open steps are all done, and says which it removed.
func (s *Store) SettleDrains(ctx context.Context) ([]string, error) {
	// Most of the time no spoke drains: a read says so without a write
	// transaction that heartbeats would conflict with.
	var draining bool
	if err := s.row(ctx, `SELECT EXISTS (SELECT 1 FROM spokes WHERE state IN ('landing', 'retiring'))`).Scan(&draining); err != nil {
		return nil, fmt.Errorf("settle drained spokes: %w", err)
	}
	if !draining {
		return nil, nil
	}
	var removed []string
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		removed = removed[:0]
		const drained = `NOT EXISTS (SELECT 1 FROM build_steps st WHERE st.spoke_id = spokes.id AND st.state IN ('pending', 'running'))`
		if _, err := tx.Exec(ctx, `UPDATE spokes SET state = 'landed' WHERE state = 'landing' AND `+drained); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, name FROM spokes WHERE state = 'retiring' AND `+drained)
		if err != nil {
			return err
		}
		type spoke struct {
			id   int64
			name string
		}
		retired, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (spoke, error) {
			var sp spoke
			err := r.Scan(&sp.id, &sp.name)
			return sp, err
		})
		if err != nil {
			return err
		}
		for _, sp := range retired {
			if err := removeSpoke(ctx, tx, sp.id); err != nil {
				return err
			}
			removed = append(removed, sp.name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("settle drained spokes: %w", err)
	}
	return removed, nil
}

// WorkerState is the spoke's state as Concourse names a worker's: running,
// stalled (its lease ran out), landing, landed or retiring.
func (sp Spoke) WorkerState() string {
	switch {
	case sp.State == SpokeLanding, sp.State == SpokeLanded, sp.State == SpokeRetiring:
		return sp.State
	case sp.Expired:
		return SpokeStalled
	}
	return SpokeRunning
}

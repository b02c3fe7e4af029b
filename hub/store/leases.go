package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Lease is held work: Fence grows each time the lease changes hands, so that a
// holder that lost it can be told apart from the current one.
type Lease struct {
	Name   string
	Holder string
	Fence  int64
}

// AcquireLease takes the named lease for holder for ttl, or renews it if holder
// has it. Expiry is computed from the database's clock. ok is false when another
// holder has an unexpired lease.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (Lease, bool, error) {
	l := Lease{Name: name, Holder: holder}
	ok := false
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO leases (name, holder, fence, expires_at)
			VALUES ($1, $2, 1, now() + $3 * INTERVAL '1 millisecond')
			ON CONFLICT (name) DO UPDATE SET
				fence = CASE WHEN leases.holder = excluded.holder THEN leases.fence ELSE leases.fence + 1 END,
				holder = excluded.holder,
				expires_at = excluded.expires_at
			WHERE leases.holder = excluded.holder OR leases.expires_at < now()
			RETURNING fence`, name, holder, ttl.Milliseconds()).Scan(&l.Fence)
		ok = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return Lease{}, false, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	return l, ok, nil
}

// ReleaseLease gives the lease up if holder still has it at fence.
func (s *Store) ReleaseLease(ctx context.Context, l Lease) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2 AND fence = $3`, l.Name, l.Holder, l.Fence)
		return err
	})
	if err != nil {
		return fmt.Errorf("release lease %s: %w", l.Name, err)
	}
	return nil
}

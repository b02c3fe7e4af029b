package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/cockroachdb/cockroach-go/v2/crdb"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Tx runs fn in one SERIALIZABLE transaction and, when the database asks for it
// (serialization failure, deadlock, ambiguous commit), runs the whole transaction
// again with a short jittered backoff.
//
// fn may run several times, so it must do nothing but database work through tx, and
// its writes must be compare-and-sets that are safe to repeat.
//
// It is crdb.ExecuteCtx around pgx.BeginTxFunc; never crdbpgx.ExecuteTx, which on
// PostgreSQL ignores errors from the real COMMIT and loses writes.
func (s *Store) Tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	attempt := 0
	return crdb.ExecuteCtx(ctx, func(ctx context.Context, _ ...any) error {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return err
			}
		}
		attempt++
		err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.Serializable}, fn)
		return asRetryable(err)
	})
}

// retryable makes crdb.ExecuteCtx retry errors it does not know to be retryable.
type retryable struct{ err error }

func (r retryable) Error() string    { return r.err.Error() }
func (r retryable) Unwrap() error    { return r.err }
func (r retryable) SQLState() string { return "40001" }

// asRetryable marks deadlocks (40P01) and ambiguous commits (40003) as retryable:
// both leave nothing half-done, and our writes are compare-and-sets.
func asRetryable(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40003") {
		return retryable{err}
	}
	return err
}

func backoff(ctx context.Context, attempt int) error {
	ceiling := time.Millisecond << min(attempt, 7) // 2 ms .. 128 ms
	t := time.NewTimer(rand.N(ceiling) + time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

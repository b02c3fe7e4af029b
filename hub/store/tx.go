package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/cockroachdb/cockroach-go/v2/crdb"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/switchyard-ci/switchyard/metrics"
)

// Tx runs fn in one SERIALIZABLE transaction and, when the database asks for it
// (serialization failure, deadlock, ambiguous commit), runs the whole transaction
// again with a short jittered backoff.
//
// fn may run several times, so it must do nothing but database work through tx, and
// its writes must be compare-and-sets that are safe to repeat.
//
// It is crdb.ExecuteCtx around pgx.BeginTxFunc; never the ExecuteTx of package
// crdbpgx, which on PostgreSQL ignores errors from the real COMMIT and loses
// writes.
func (s *Store) Tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return retry(ctx, func() error {
		return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.Serializable}, fn)
	})
}

// retry runs fn again, with a short jittered backoff, while it fails with an
// error the database says to retry. Plain reads need it too: under
// SERIALIZABLE (PostgreSQL's setting here, CockroachDB's always) a lone SELECT
// can be the victim of a serialization failure.
func retry(ctx context.Context, fn func() error) error {
	attempt := 0
	var last error
	return crdb.ExecuteCtx(ctx, func(ctx context.Context, _ ...any) error {
		if attempt > 0 {
			metrics.TxRetries.WithLabelValues(retryCause(last)).Inc()
			if err := backoff(ctx, attempt); err != nil {
				return err
			}
		}
		attempt++
		last = asRetryable(fn())
		return last
	})
}

// retryCause names why a transaction runs again, for
// switchyard_db_transaction_retries_total.
func retryCause(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "40001":
			return "serialization"
		case "40P01":
			return "deadlock"
		case "40003":
			return "ambiguous_commit"
		}
	}
	return "other"
}

// queryCounter counts the statements sent to the database
// (concourse_db_queries_total).
type queryCounter struct{}

func (queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	metrics.DBQueries.Inc()
	return ctx
}

func (queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// retryRow is a single-row read that is retried as a whole when it fails with a
// retryable error; Scan runs the query.
type retryRow struct {
	s    *Store
	ctx  context.Context
	sql  string
	args []any
}

func (r retryRow) Scan(dest ...any) error {
	return retry(r.ctx, func() error { return r.s.reads.QueryRow(r.ctx, r.sql, r.args...).Scan(dest...) })
}

// row reads one row outside a transaction.
func (s *Store) row(ctx context.Context, sql string, args ...any) pgx.Row {
	return retryRow{s: s, ctx: ctx, sql: sql, args: args}
}

// collect reads every row of a query outside a transaction, retried as a whole.
func collect[T any](ctx context.Context, query func() (pgx.Rows, error), fn pgx.RowToFunc[T]) ([]T, error) {
	var out []T
	err := retry(ctx, func() error {
		rows, err := query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, fn)
		return err
	})
	return out, err
}

// txRows reads every row of a query in a transaction (not retried on its
// own: the transaction is).
func txRows[T any](ctx context.Context, tx pgx.Tx, fn pgx.RowToFunc[T], sql string, args ...any) ([]T, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, fn)
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

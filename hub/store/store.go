package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/switchyard-ci/switchyard/hub/keyed"
)

// Store is the hub's handle on the database. It is safe for concurrent use.
type Store struct {
	pool     *pgxpool.Pool // transactions, always SERIALIZABLE
	reads    *pgxpool.Pool // single-statement reads outside transactions, READ COMMITTED
	log      *slog.Logger
	jobs     keyed.Locks          // by job id, see lockJob
	triggers batches[*triggerAsk] // builds asked of a job at once, created together
	finishes batches[*finishAsk]  // builds of a job that end at once, finished together
	keys     *Keys                // seal configs at rest (seal.go); nil: stored as they are
}

// lockJob serializes, within this process, the transactions that write a
// job's row: triggers (the build number), scheduling and finished builds
// (the scheduling request). Under
// SERIALIZABLE they fail each other and run again (200 triggers of one job
// at once kept its scheduling retrying for seconds); in line, each runs
// once. Across hub replicas they still conflict, and retry. Take it before
// the transaction, never inside one.
func (s *Store) lockJob(id int64) (unlock func()) { return s.jobs.Lock(id) }

// Open connects to the database at url. It does not migrate: call Migrate once at
// hub start.
func Open(ctx context.Context, url string, log *slog.Logger) (*Store, error) {
	return OpenWith(ctx, url, log, nil)
}

// OpenWith is Open with encryption keys for configs at rest (nil: none).
func OpenWith(ctx context.Context, url string, log *slog.Logger, keys *Keys) (*Store, error) {
	if url == "" {
		return nil, errors.New("open store: no database URL: set --database-url or SWITCHYARD_DATABASE_URL")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open store: parse database URL: %w", err)
	}
	// A statement run on its own is its own transaction: SERIALIZABLE too,
	// whatever the server's default.
	cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "serializable"
	cfg.ConnConfig.Tracer = queryCounter{}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open store: reach %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	// Lone reads (lists, polls, lookups) see one consistent snapshot per
	// statement at READ COMMITTED; under SERIALIZABLE they only made writers fail
	// as pivots of read/write cycles. Transactions still run SERIALIZABLE.
	rcfg := cfg.Copy()
	rcfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "read committed"
	reads, err := pgxpool.NewWithConfig(ctx, rcfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	return &Store{pool: pool, reads: reads, log: log, keys: keys}, nil
}

// Connections are the open connections of each pool, for
// concourse_db_connections: "tx" runs transactions, "reads" lone reads.
func (s *Store) Connections() map[string]int {
	return map[string]int{"tx": int(s.pool.Stat().TotalConns()), "reads": int(s.reads.Stat().TotalConns())}
}

// Close releases every connection.
func (s *Store) Close() {
	s.reads.Close()
	s.pool.Close()
}

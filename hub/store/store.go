package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is the hub's handle on the database. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
}

// Open connects to the database at url. It does not migrate: call Migrate once at
// hub start.
func Open(ctx context.Context, url string, log *slog.Logger) (*Store, error) {
	if url == "" {
		return nil, errors.New("open store: no database URL: set --database-url or SWITCHYARD_DATABASE_URL")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open store: parse database URL: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open store: reach %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	return &Store{pool: pool, log: log}, nil
}

// Close releases every connection.
func (s *Store) Close() { s.pool.Close() }

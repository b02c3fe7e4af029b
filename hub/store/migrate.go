package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in order. Files are named
// NNNN_description.sql; numbers are unique and never reused.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", e.Name())
		}
		body, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share a number", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// Migrate applies the embedded migrations that the database has not seen, each in
// its own transaction. Several hubs may call it at once: a migration is recorded in
// the same transaction that applies it, so only one of them applies it.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	err = retry(ctx, func() error {
		_, err := s.pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    BIGINT PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`)
		return err
	})
	if err != nil && !isDuplicate(err) {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	for _, m := range ms {
		applied := false
		err := s.Tx(ctx, func(tx pgx.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				applied = false
				return nil
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
			applied = err == nil
			return err
		})
		if isDuplicate(err) && s.migrated(ctx, m.version) {
			// Another hub applied it between our check and our write.
			continue
		}
		if err != nil {
			return fmt.Errorf("migrate: apply %s: %w", m.name, err)
		}
		if applied {
			s.log.Info("applied migration", slog.String("migration", m.name))
		}
	}
	return nil
}

// isDuplicate tells whether err says that what we create already exists.
func isDuplicate(err error) bool {
	for _, code := range []string{"23505", "42P07", "42710", "42701"} {
		if hasCode(err, code) {
			return true
		}
	}
	return false
}

// migrated tells whether the database records a migration as applied.
func (s *Store) migrated(ctx context.Context, version int) bool {
	var n int
	err := s.row(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n)
	return err == nil && n > 0
}

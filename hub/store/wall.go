package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Wall is the message every user sees; Expires is zero for none.
type Wall struct {
	Message string
	Expires time.Time
}

// SetWall sets the wall's message (an empty one clears it).
func (s *Store) SetWall(ctx context.Context, w Wall) error {
	var err error
	if w.Message == "" {
		_, err = s.pool.Exec(ctx, `DELETE FROM wall`)
	} else {
		var exp *time.Time
		if !w.Expires.IsZero() {
			exp = &w.Expires
		}
		_, err = s.pool.Exec(ctx, `INSERT INTO wall (message, expires_at) VALUES ($1, $2)
			ON CONFLICT (id) DO UPDATE SET message = excluded.message, expires_at = excluded.expires_at`, w.Message, exp)
	}
	if err != nil {
		return fmt.Errorf("set wall: %w", err)
	}
	return nil
}

// GetWall returns the wall's message, if it has one that has not expired.
func (s *Store) GetWall(ctx context.Context) (Wall, error) {
	var w Wall
	var exp *time.Time
	err := s.row(ctx, `SELECT message, expires_at FROM wall WHERE expires_at IS NULL OR expires_at > now()`).Scan(&w.Message, &exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return Wall{}, nil
	}
	if err != nil {
		return Wall{}, fmt.Errorf("get wall: %w", err)
	}
	if exp != nil {
		w.Expires = *exp
	}
	return w, nil
}

// User is someone who signed in.
type User struct {
	ID        int64
	Username  string
	Connector string
	LastLogin time.Time
}

// RecordLogin notes a sign-in.
func (s *Store) RecordLogin(ctx context.Context, username, connector string) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO users (username, connector, last_login) VALUES ($1, $2, now())
		ON CONFLICT (connector, username) DO UPDATE SET last_login = now()`, username, connector); err != nil {
		return fmt.Errorf("record login: %w", err)
	}
	return nil
}

// ActiveUsers lists who signed in since a time, most recent first.
func (s *Store) ActiveUsers(ctx context.Context, since time.Time) ([]User, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT id, username, connector, last_login FROM users WHERE last_login >= $1 ORDER BY last_login DESC LIMIT 10000`, since)
	}, func(r pgx.CollectableRow) (User, error) {
		var u User
		err := r.Scan(&u.ID, &u.Username, &u.Connector, &u.LastLogin)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("list active users: %w", err)
	}
	return out, nil
}

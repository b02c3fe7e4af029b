package store

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// hasCode tells whether err carries the SQLSTATE code.
func hasCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// ErrNotFound is returned when a named row does not exist.
var ErrNotFound = errors.New("not found")

// ErrConfigConflict is returned when a pipeline config is saved against a config
// version that is no longer current. Nothing was written.
var ErrConfigConflict = errors.New("comparison with existing config failed during save")

// ErrNoInputs is returned for a rerun of a build that never got inputs.
var ErrNoInputs = errors.New("the build has no inputs to rerun with")

package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Artifact is a build artifact: a step's output, by content.
type Artifact struct {
	ID        int64
	BuildID   int64
	TeamID    int64
	Name      string
	Digest    string
	Size      int64
	StepID    int64
	CreatedAt time.Time
}

const artifactColumns = `id, COALESCE(build_id, 0), team_id, name, digest, size, COALESCE(step_id, 0), created_at`

// recordArtifacts records what a step produced, replacing older artifacts of
// the same names in the build, and that its spoke holds them.
func recordArtifacts(ctx context.Context, tx pgx.Tx, st Step, arts []Artifact) error {
	for _, a := range arts {
		if _, err := tx.Exec(ctx, `DELETE FROM build_artifacts WHERE build_id = $1 AND name = $2`, st.BuildID, a.Name); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO build_artifacts (build_id, team_id, name, digest, size, step_id)
			SELECT id, team_id, $2, $3, $4, $5 FROM builds WHERE id = $1`, st.BuildID, a.Name, a.Digest, a.Size, st.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO artifact_holders (spoke_id, digest) VALUES ($1, $2) ON CONFLICT DO NOTHING`, st.SpokeID, a.Digest); err != nil {
			return err
		}
	}
	return nil
}

// AddArtifact records an artifact that no step of the build produced: an
// upload of fly execute (BuildID 0), or such an upload taken as an input by
// a build. It replaces the build's artifact of the same name.
func (s *Store) AddArtifact(ctx context.Context, a Artifact) (Artifact, error) {
	var build any
	if a.BuildID != 0 {
		build = a.BuildID
	}
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		if a.BuildID != 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM build_artifacts WHERE build_id = $1 AND name = $2`, a.BuildID, a.Name); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, `INSERT INTO build_artifacts (build_id, team_id, name, digest, size) VALUES ($1, $2, $3, $4, $5)
			RETURNING `+artifactColumns, build, a.TeamID, a.Name, a.Digest, a.Size).
			Scan(&a.ID, &a.BuildID, &a.TeamID, &a.Name, &a.Digest, &a.Size, &a.StepID, &a.CreatedAt)
	})
	if err != nil {
		return a, fmt.Errorf("record artifact %s: %w", a.Name, err)
	}
	return a, nil
}

// BuildArtifacts lists a build's artifacts by name.
func (s *Store) BuildArtifacts(ctx context.Context, buildID int64) ([]Artifact, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.pool.Query(ctx, `SELECT `+artifactColumns+` FROM build_artifacts WHERE build_id = $1 ORDER BY name`, buildID)
	}, pgx.RowToStructByPos[Artifact])
	if err != nil {
		return nil, fmt.Errorf("artifacts of build %d: %w", buildID, err)
	}
	return out, nil
}

// ArtifactByID returns one artifact.
func (s *Store) ArtifactByID(ctx context.Context, id int64) (Artifact, error) {
	var a Artifact
	err := s.row(ctx, `SELECT `+artifactColumns+` FROM build_artifacts WHERE id = $1`, id).
		Scan(&a.ID, &a.BuildID, &a.TeamID, &a.Name, &a.Digest, &a.Size, &a.StepID, &a.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, ErrNotFound
	}
	return a, err
}

// ArtifactHolders tells, for each digest, the names of the spokes that hold it.
func (s *Store) ArtifactHolders(ctx context.Context, digests []string) (map[string][]string, error) {
	type holder struct{ Digest, Spoke string }
	rows, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT h.digest, sp.name FROM artifact_holders h JOIN spokes sp ON sp.id = h.spoke_id
			WHERE h.digest = ANY($1) ORDER BY sp.name`, digests)
	}, pgx.RowToStructByPos[holder])
	if err != nil {
		return nil, fmt.Errorf("holders of artifacts: %w", err)
	}
	out := map[string][]string{}
	for _, r := range rows {
		out[r.Digest] = append(out[r.Digest], r.Spoke)
	}
	return out, nil
}

// SetArtifactHolders records that a spoke now holds some digests and no
// longer holds others.
func (s *Store) SetArtifactHolders(ctx context.Context, spokeID int64, holds, evicted []string) error {
	if len(holds) == 0 && len(evicted) == 0 {
		return nil
	}
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM artifact_holders WHERE spoke_id = $1 AND digest = ANY($2)`, spokeID, evicted); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO artifact_holders (spoke_id, digest) SELECT $1, unnest($2::TEXT[]) ON CONFLICT DO NOTHING`, spokeID, holds)
		return err
	})
	if err != nil {
		return fmt.Errorf("artifacts held by spoke %d: %w", spokeID, err)
	}
	return nil
}

// ArtifactReferenced tells whether any build still refers to a team's digest.
func (s *Store) ArtifactReferenced(ctx context.Context, teamID int64, digest string) (bool, error) {
	var n int
	err := s.row(ctx, `SELECT count(*) FROM build_artifacts WHERE team_id = $1 AND digest = $2`, teamID, digest).Scan(&n)
	return n > 0, err
}

// ExpireArtifacts forgets the artifacts of builds that ended before cutoff,
// and uploads older than it, so that the GC may delete their bytes; it
// returns how many it forgot.
func (s *Store) ExpireArtifacts(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM build_artifacts WHERE build_id IN
			(SELECT id FROM builds WHERE end_time IS NOT NULL AND end_time < $1)
			OR (build_id IS NULL AND created_at < $1)`, cutoff)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("expire artifacts: %w", err)
	}
	return n, nil
}

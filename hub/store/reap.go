package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard-ci/switchyard/api"
)

// What the reaper reads and deletes: old builds' events, kept by each
// job's build_log_retention, and archived pipelines.

// RetainedJob is a job whose builds' events the reaper may delete, with its
// own retention values.
type RetainedJob struct {
	ID        int64
	Retention Retention
}

// ReapableJobs lists the active, unpaused jobs of unpaused pipelines, as
// Concourse's reaper skips paused ones.
func (s *Store) ReapableJobs(ctx context.Context) ([]RetainedJob, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT j.id, j.retain_builds, j.retain_days, j.retain_min_succeeded
			FROM jobs j JOIN pipelines p ON p.id = j.pipeline_id
			WHERE j.active AND NOT j.paused AND NOT p.paused AND NOT p.archived ORDER BY j.id`)
	}, func(r pgx.CollectableRow) (RetainedJob, error) {
		var j RetainedJob
		err := r.Scan(&j.ID, &j.Retention.Builds, &j.Retention.Days, &j.Retention.MinSucceeded)
		return j, err
	})
	if err != nil {
		return nil, fmt.Errorf("list jobs to reap: %w", err)
	}
	return out, nil
}

// ReapCandidate is a build whose events are still kept.
type ReapCandidate struct {
	ID      int64
	Status  api.BuildStatus
	EndTime *time.Time
}

// UnreapedBuilds lists a job's builds whose events are kept, newest first,
// at most limit.
func (s *Store) UnreapedBuilds(ctx context.Context, jobID int64, limit int) ([]ReapCandidate, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT id, status, end_time FROM builds
			WHERE job_id = $1 AND reap_time IS NULL ORDER BY id DESC LIMIT $2`, jobID, limit)
	}, func(r pgx.CollectableRow) (ReapCandidate, error) {
		var c ReapCandidate
		err := r.Scan(&c.ID, &c.Status, &c.EndTime)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("list builds to reap of job %d: %w", jobID, err)
	}
	return out, nil
}

// ReapBuilds deletes the events of finished builds and marks them reaped;
// their rows stay. It returns how many events went.
func (s *Store) ReapBuilds(ctx context.Context, ids []int64) (int64, error) {
	var n int64
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM build_events WHERE build_id = ANY($1)
			AND build_id IN (SELECT id FROM builds WHERE id = ANY($1) AND status NOT IN ('pending', 'started'))`, ids)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `UPDATE builds SET reap_time = now() WHERE id = ANY($1) AND status NOT IN ('pending', 'started')`, ids)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("reap builds: %w", err)
	}
	return n, nil
}

// DestroyArchivedPipelines deletes up to limit pipelines archived before
// before, with everything of them, and says how many went.
func (s *Store) DestroyArchivedPipelines(ctx context.Context, before time.Time, limit int) (int64, error) {
	var n int64
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM pipelines WHERE id IN (
			SELECT id FROM pipelines WHERE archived AND archived_at < $1 ORDER BY archived_at LIMIT $2)`, before, limit)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("destroy archived pipelines: %w", err)
	}
	return n, nil
}

package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard-ci/switchyard/api"
)

// Job is a row of jobs.
type Job struct {
	ID         int64
	PipelineID int64
	Name       string
	Config     json.RawMessage
	Paused     bool
	Public     bool
}

const jobColumns = `id, pipeline_id, name, config, paused, public`

func (s *Store) scanJob(row pgx.Row) (Job, error) {
	var j Job
	err := row.Scan(&j.ID, &j.PipelineID, &j.Name, &j.Config, &j.Paused, &j.Public)
	if err == nil {
		err = s.keys.openRaw(&j.Config)
	}
	return j, err
}

// Jobs lists the active jobs of a pipeline in config order.
func (s *Store) Jobs(ctx context.Context, pipelineID int64) ([]Job, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT `+jobColumns+` FROM jobs WHERE pipeline_id = $1 AND active ORDER BY id`, pipelineID)
	}, func(r pgx.CollectableRow) (Job, error) { return s.scanJob(r) })
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return out, nil
}

// JobByName returns an active job or ErrNotFound.
func (s *Store) JobByName(ctx context.Context, pipelineID int64, name string) (Job, error) {
	j, err := s.scanJob(s.row(ctx, `SELECT `+jobColumns+` FROM jobs WHERE pipeline_id = $1 AND name = $2 AND active`, pipelineID, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return Job{}, fmt.Errorf("job %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return Job{}, fmt.Errorf("get job %s: %w", name, err)
	}
	return j, nil
}

// JobByID returns a job by id, active or not.
func (s *Store) JobByID(ctx context.Context, id int64) (Job, error) {
	j, err := s.scanJob(s.row(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Job{}, fmt.Errorf("job %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Job{}, fmt.Errorf("get job %d: %w", id, err)
	}
	return j, nil
}

// SetJobPaused pauses or unpauses a job.
// SetJobTrusted marks a job's builds trusted or untrusted.
func (s *Store) SetJobTrusted(ctx context.Context, jobID int64, trusted bool) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE jobs SET untrusted = $2 WHERE id = $1`, jobID, !trusted)
		return err
	})
	if err != nil {
		return fmt.Errorf("trust job: %w", err)
	}
	return nil
}

func (s *Store) SetJobPaused(ctx context.Context, jobID int64, paused bool, by string) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE jobs SET paused = $2, paused_by = $3, paused_at = CASE WHEN $2 THEN now() END,
			schedule_seq = schedule_seq + 1 WHERE id = $1`, jobID, paused, by)
		return err
	})
	if err != nil {
		return fmt.Errorf("pause job: %w", err)
	}
	return nil
}

// JobState is a job as a page of pipelines shows it: its latest finished
// build's status ("" before any) and whether a build of it is pending or
// started.
type JobState struct {
	ID, PipelineID int64
	Name           string
	Paused         bool
	Finished       api.BuildStatus
	Running        bool
}

// JobStates reads the active jobs of the pipelines with their builds'
// state, in one query, by pipeline in job order.
func (s *Store) JobStates(ctx context.Context, pipelineIDs []int64) ([]JobState, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT j.id, j.pipeline_id, j.name, j.paused, COALESCE(f.status, ''),
				EXISTS (SELECT 1 FROM builds b WHERE b.job_id = j.id AND b.status IN ('pending', 'started'))
			FROM jobs j
			LEFT JOIN LATERAL (SELECT b.status FROM builds b WHERE b.job_id = j.id AND b.status NOT IN ('pending', 'started')
				ORDER BY b.id DESC LIMIT 1) f ON true
			WHERE j.pipeline_id = ANY($1) AND j.active ORDER BY j.pipeline_id, j.id`, pipelineIDs)
	}, func(r pgx.CollectableRow) (JobState, error) {
		var j JobState
		err := r.Scan(&j.ID, &j.PipelineID, &j.Name, &j.Paused, &j.Finished, &j.Running)
		return j, err
	})
	if err != nil {
		return nil, fmt.Errorf("the jobs of %d pipelines: %w", len(pipelineIDs), err)
	}
	return out, nil
}

// changeOverlap is how far back the next ChangedPipelines looks again.
const changeOverlap = 5 * time.Second

// ChangedPipelines lists the pipelines of jobs whose builds were created,
// started or finished after since (the database's clock), and the time to
// ask from next.
func (s *Store) ChangedPipelines(ctx context.Context, since time.Time) ([]int64, time.Time, error) {
	var ids []int64
	var now time.Time
	err := s.row(ctx, `SELECT COALESCE(array_agg(DISTINCT j.pipeline_id), '{}'), now() FROM builds b JOIN jobs j ON j.id = b.job_id
		WHERE b.job_id IS NOT NULL AND GREATEST(b.create_time, b.start_time, b.end_time) > $1`, since).Scan(&ids, &now)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("pipelines changed since %s: %w", since, err)
	}
	// A build whose transaction began before now and commits after this
	// read has an earlier time: the next question overlaps this one.
	return ids, now.Add(-changeOverlap), nil
}

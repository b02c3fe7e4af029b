package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
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

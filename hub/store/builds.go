package store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// Build is a row of builds.
type Build struct {
	ID     int64
	Name   string
	JobID  int64
	Status string
	Fence  int64
}

// SaveJob creates or updates a job of a pipeline and returns its id.
func (s *Store) SaveJob(ctx context.Context, pipelineID int64, name string, config []byte) (int64, error) {
	var id int64
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
			INSERT INTO jobs (pipeline_id, name, config) VALUES ($1, $2, $3)
			ON CONFLICT (pipeline_id, name) DO UPDATE SET config = excluded.config, active = true
			RETURNING id`, pipelineID, name, string(config)).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("save job %s: %w", name, err)
	}
	return id, nil
}

// CreateJobBuild creates the next pending build of a job, named by the job's build
// counter. Concurrent callers get distinct, gapless names.
func (s *Store) CreateJobBuild(ctx context.Context, jobID int64, createdBy string, manual bool) (Build, error) {
	var b Build
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		var teamID, pipelineID, n int64
		if err := tx.QueryRow(ctx, `
			SELECT p.team_id, j.pipeline_id, j.build_number_seq
			FROM jobs j JOIN pipelines p ON p.id = j.pipeline_id
			WHERE j.id = $1`, jobID).Scan(&teamID, &pipelineID, &n); err != nil {
			return err
		}
		n++
		if _, err := tx.Exec(ctx, `UPDATE jobs SET build_number_seq = $2 WHERE id = $1`, jobID, n); err != nil {
			return err
		}
		b = Build{Name: strconv.FormatInt(n, 10), JobID: jobID, Status: "pending"}
		return tx.QueryRow(ctx, `
			INSERT INTO builds (name, team_id, pipeline_id, job_id, created_by, manually_triggered)
			VALUES ($1, $2, $3, $4, $5, $6)
			RETURNING id, fence`, b.Name, teamID, pipelineID, jobID, createdBy, manual).Scan(&b.ID, &b.Fence)
	})
	if err != nil {
		return Build{}, fmt.Errorf("create build of job %d: %w", jobID, err)
	}
	return b, nil
}

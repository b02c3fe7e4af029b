package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// BuildRecord is a finished build's history: what it got and what it put.
type BuildRecord struct {
	JobID   int64
	Status  string
	RerunOf int64 // 0: not a rerun
	Inputs  []RecordedInput
	Outputs []RecordedOutput
}

type RecordedInput struct {
	Name       string
	ResourceID int64
	Version    map[string]string
}

type RecordedOutput struct {
	ResourceID int64
	Version    map[string]string
}

// RecordBuild stores a build with its inputs and outputs and, when it
// succeeded, its output set: per resource, the first version among its
// outputs, then its inputs. It returns the build's id.
func (s *Store) RecordBuild(ctx context.Context, r BuildRecord) (int64, error) {
	var id int64
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		var teamID, pipelineID, n int64
		if err := tx.QueryRow(ctx, `
			UPDATE jobs j SET build_number_seq = j.build_number_seq + 1
			FROM pipelines p WHERE p.id = j.pipeline_id AND j.id = $1
			RETURNING p.team_id, j.pipeline_id, j.build_number_seq`, r.JobID).Scan(&teamID, &pipelineID, &n); err != nil {
			return err
		}
		var rerun *int64
		if r.RerunOf != 0 {
			rerun = &r.RerunOf
		}
		if err := tx.QueryRow(ctx, `
			INSERT INTO builds (name, team_id, pipeline_id, job_id, status, rerun_of, end_time)
			VALUES ($1, $2, $3, $4, $5, $6, now()) RETURNING id`,
			strconv.FormatInt(n, 10), teamID, pipelineID, r.JobID, r.Status, rerun).Scan(&id); err != nil {
			return err
		}
		order := id
		if r.RerunOf != 0 {
			order = r.RerunOf
		}
		set := map[int64]string{} // resource -> first digest
		var setOrder []int64
		add := func(resource int64, d string) {
			if _, ok := set[resource]; !ok {
				set[resource] = d
				setOrder = append(setOrder, resource)
			}
		}
		for i, out := range r.Outputs {
			d := digest(out.Version)
			if _, err := tx.Exec(ctx, `INSERT INTO build_outputs (build_id, position, resource_id, version_digest) VALUES ($1, $2, $3, $4)`,
				id, i, out.ResourceID, d); err != nil {
				return err
			}
			add(out.ResourceID, d)
		}
		for _, in := range r.Inputs {
			d := digest(in.Version)
			if _, err := tx.Exec(ctx, `INSERT INTO build_inputs (build_id, job_id, name, resource_id, version_digest) VALUES ($1, $2, $3, $4, $5)`,
				id, r.JobID, in.Name, in.ResourceID, d); err != nil {
				return err
			}
			add(in.ResourceID, d)
		}
		if r.Status != "succeeded" {
			return nil
		}
		for _, res := range setOrder {
			if _, err := tx.Exec(ctx, `INSERT INTO successful_build_outputs (build_id, job_id, build_order, resource_id, version_digest)
				VALUES ($1, $2, $3, $4, $5)`, id, r.JobID, order, res, set[res]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("record build of job %d: %w", r.JobID, err)
	}
	return id, nil
}

// AddBuildPipe records that build from (of an upstream job) fed build to.
func (s *Store) AddBuildPipe(ctx context.Context, from, to int64) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO build_pipes (from_build_id, to_build_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, from, to)
		return err
	})
	if err != nil {
		return fmt.Errorf("add build pipe %d -> %d: %w", from, to, err)
	}
	return nil
}

// ImportVersion stores a version with a given check order and disabled flag
// (imports and scenarios; checks use SaveVersions). It returns the version's id.
func (s *Store) ImportVersion(ctx context.Context, resourceID int64, version map[string]string, checkOrder int64, disabled bool) (int64, error) {
	vj, err := json.Marshal(version)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.Tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
			INSERT INTO resource_versions (resource_id, version, digest, check_order, disabled) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (resource_id, digest) DO UPDATE SET check_order = excluded.check_order, disabled = excluded.disabled
			RETURNING id`, resourceID, string(vj), digest(version), checkOrder, disabled).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("import version of resource %d: %w", resourceID, err)
	}
	return id, nil
}

package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// NextInputs is the last resolution of a job's inputs.
type NextInputs struct {
	Determined bool                  // every input resolved
	Resolved   bool                  // the job was resolved at least once
	HasNew     bool                  // a trigger input has a version new to the job
	Errors     map[string]InputError // inputs that did not resolve
	Inputs     []NextInput           // inputs that did
}

// NextInput is a resolved input with its version and the resource it fetches.
type NextInput struct {
	Name            string
	Resource        Resource
	Version         map[string]string
	FirstOccurrence bool
}

// JobNextInputs reads the last resolution of a job's inputs.
func (s *Store) JobNextInputs(ctx context.Context, jobID int64) (NextInputs, error) {
	var out NextInputs
	var errs json.RawMessage
	err := s.row(ctx, `SELECT inputs_determined, last_scheduled IS NOT NULL, has_new_inputs, resolve_errors FROM jobs WHERE id = $1`, jobID).
		Scan(&out.Determined, &out.Resolved, &out.HasNew, &errs)
	if err != nil {
		return out, fmt.Errorf("read next inputs of job %d: %w", jobID, err)
	}
	if err := json.Unmarshal(errs, &out.Errors); err != nil {
		return out, fmt.Errorf("read next inputs of job %d: %w", jobID, err)
	}
	out.Inputs, err = collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT n.name, n.first_occurrence, v.version, r.id, r.pipeline_id, r.name, r.type, r.config
			FROM next_build_inputs n JOIN resources r ON r.id = n.resource_id
			JOIN resource_versions v ON v.resource_id = n.resource_id AND v.digest = n.version_digest
			WHERE n.job_id = $1 ORDER BY n.name`, jobID)
	}, func(r pgx.CollectableRow) (NextInput, error) {
		var n NextInput
		err := r.Scan(&n.Name, &n.FirstOccurrence, &n.Version, &n.Resource.ID, &n.Resource.PipelineID, &n.Resource.Name, &n.Resource.Type, &n.Resource.Config)
		if err == nil {
			err = s.keys.openRaw(&n.Resource.Config)
		}
		return n, err
	})
	if err != nil {
		return out, fmt.Errorf("read next inputs of job %d: %w", jobID, err)
	}
	return out, nil
}

// Preparation is what holds a pending build back.
type Preparation struct {
	PipelinePaused bool
	JobPaused      bool
	Scheduled      bool // the scheduler let it run
	MaxInFlight    int
	Running        int // running builds of the job and its serial groups
	Inputs         []string
	Next           NextInputs
}

// BuildPreparation reads why a job's build is pending.
func (s *Store) BuildPreparation(ctx context.Context, b Build) (Preparation, error) {
	var p Preparation
	err := s.row(ctx, `SELECT p.paused, j.paused, bb.scheduled, j.max_in_flight,
			(SELECT count(*) FROM builds x WHERE x.status = 'started' AND (x.job_id = j.id OR x.job_id IN (
				SELECT g2.job_id FROM job_serial_groups g1 JOIN job_serial_groups g2 ON g2.serial_group = g1.serial_group
				WHERE g1.job_id = j.id)))
		FROM builds bb JOIN jobs j ON j.id = bb.job_id JOIN pipelines p ON p.id = j.pipeline_id WHERE bb.id = $1`, b.ID).
		Scan(&p.PipelinePaused, &p.JobPaused, &p.Scheduled, &p.MaxInFlight, &p.Running)
	if err != nil {
		return p, fmt.Errorf("read preparation of build %d: %w", b.ID, err)
	}
	p.Inputs, err = collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT name FROM job_inputs WHERE job_id = $1 ORDER BY position`, b.JobID)
	}, pgx.RowTo[string])
	if err != nil {
		return p, fmt.Errorf("read preparation of build %d: %w", b.ID, err)
	}
	p.Next, err = s.JobNextInputs(ctx, b.JobID)
	return p, err
}

// BuildIO is a build's inputs and outputs by name.
type BuildIO struct {
	Inputs  []BuildIOInput
	Outputs []BuildIOOutput
}

type BuildIOInput struct {
	Name            string
	Version         map[string]string
	FirstOccurrence bool
}

type BuildIOOutput struct {
	Resource string
	Version  map[string]string
}

// BuildResources reads what a build got and what it put.
func (s *Store) BuildResources(ctx context.Context, buildID int64) (BuildIO, error) {
	var out BuildIO
	var err error
	out.Inputs, err = collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT i.name, v.version, i.first_occurrence FROM build_inputs i
			JOIN resource_versions v ON v.resource_id = i.resource_id AND v.digest = i.version_digest
			WHERE i.build_id = $1 ORDER BY i.name`, buildID)
	}, func(r pgx.CollectableRow) (BuildIOInput, error) {
		var x BuildIOInput
		err := r.Scan(&x.Name, &x.Version, &x.FirstOccurrence)
		return x, err
	})
	if err != nil {
		return out, fmt.Errorf("read inputs of build %d: %w", buildID, err)
	}
	out.Outputs, err = collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT r.name, v.version FROM build_outputs o JOIN resources r ON r.id = o.resource_id
			JOIN resource_versions v ON v.resource_id = o.resource_id AND v.digest = o.version_digest
			WHERE o.build_id = $1 ORDER BY o.position`, buildID)
	}, func(r pgx.CollectableRow) (BuildIOOutput, error) {
		var x BuildIOOutput
		err := r.Scan(&x.Resource, &x.Version)
		return x, err
	})
	if err != nil {
		return out, fmt.Errorf("read outputs of build %d: %w", buildID, err)
	}
	return out, nil
}

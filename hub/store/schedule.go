package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard-ci/switchyard/hub/schedule"
	"github.com/switchyard-ci/switchyard/telemetry"
)

// JobRef names a job that asked to be scheduled.
type JobRef struct {
	ID         int64
	PipelineID int64
}

// RequestedJobs lists active jobs whose scheduling requests are not handled
// yet (on a partial index: cheap when there are none), at most limit.
func (s *Store) RequestedJobs(ctx context.Context, limit int) ([]JobRef, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT id, pipeline_id FROM jobs
			WHERE schedule_seq > scheduled_seq AND active ORDER BY pipeline_id, id LIMIT $1`, limit)
	}, func(r pgx.CollectableRow) (JobRef, error) {
		var j JobRef
		err := r.Scan(&j.ID, &j.PipelineID)
		return j, err
	})
	if err != nil {
		return nil, fmt.Errorf("list jobs to schedule: %w", err)
	}
	return out, nil
}

// SchedulingJob is what the scheduler needs of a job.
type SchedulingJob struct {
	ID           int64
	PipelineID   int64
	PipelineName string
	Name         string
	Seq          int64 // the request being handled
	Inputs       []SchedulingInput
}

// SchedulingInput is one get of a job, with its pins folded in.
type SchedulingInput struct {
	Name       string
	ResourceID int64
	Resource   string
	Trigger    bool
	Every      bool
	Passed     []int64
	PassedJobs []string          // the passed jobs' names, in Passed's order
	Pinned     map[string]string // the get's version, else the config pin, else the API pin
}

// JobForScheduling reads a job's scheduling request and inputs.
func (s *Store) JobForScheduling(ctx context.Context, jobID int64) (SchedulingJob, error) {
	j := SchedulingJob{ID: jobID}
	err := s.row(ctx, `SELECT j.pipeline_id, p.name, j.name, j.schedule_seq FROM jobs j JOIN pipelines p ON p.id = j.pipeline_id
		WHERE j.id = $1`, jobID).Scan(&j.PipelineID, &j.PipelineName, &j.Name, &j.Seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return j, fmt.Errorf("job %d: %w", jobID, ErrNotFound)
	}
	if err != nil {
		return j, fmt.Errorf("read job %d: %w", jobID, err)
	}
	j.Inputs, err = collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT i.name, i.resource_id, r.name, i.trigger, i.every,
				COALESCE(i.version, r.pinned_in_config, pv.version)
			FROM job_inputs i JOIN resources r ON r.id = i.resource_id
			LEFT JOIN resource_versions pv ON pv.id = r.pinned_version_id
			WHERE i.job_id = $1 ORDER BY i.position`, jobID)
	}, func(r pgx.CollectableRow) (SchedulingInput, error) {
		var in SchedulingInput
		err := r.Scan(&in.Name, &in.ResourceID, &in.Resource, &in.Trigger, &in.Every, &in.Pinned)
		return in, err
	})
	if err != nil {
		return j, fmt.Errorf("read inputs of job %d: %w", jobID, err)
	}
	type passed struct {
		name    string
		job     int64
		jobName string
	}
	ps, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT p.name, p.passed_job_id, j.name FROM job_input_passed p JOIN jobs j ON j.id = p.passed_job_id
			WHERE p.job_id = $1 ORDER BY p.passed_job_id`, jobID)
	}, func(r pgx.CollectableRow) (passed, error) {
		var p passed
		err := r.Scan(&p.name, &p.job, &p.jobName)
		return p, err
	})
	if err != nil {
		return j, fmt.Errorf("read passed constraints of job %d: %w", jobID, err)
	}
	for _, p := range ps {
		for i := range j.Inputs {
			if j.Inputs[i].Name == p.name {
				j.Inputs[i].Passed = append(j.Inputs[i].Passed, p.job)
				j.Inputs[i].PassedJobs = append(j.Inputs[i].PassedJobs, p.jobName)
			}
		}
	}
	return j, nil
}

// Resolution is the scheduler's answer for a job at one request.
type Resolution struct {
	JobID   int64
	Seq     int64
	Errors  map[string]InputError // inputs that did not resolve; empty when all did
	Inputs  []ResolvedInput
	HasNext bool
	// Plan returns the job's plan with the inputs' versions filled in, from the
	// job's stored plan.
	Plan func(plan json.RawMessage, versions map[string]map[string]string) (json.RawMessage, error)
}

// InputError is why an input did not resolve: Concourse's reason and what a
// user can do about it.
type InputError struct {
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// ResolvedInput is the version chosen for an input.
type ResolvedInput struct {
	Name            string
	ResourceID      int64
	VersionID       int64
	Trigger         bool
	FirstOccurrence bool
	PassedBuilds    []int64
}

// Scheduled says what SaveResolution did.
type Scheduled struct {
	Handled bool    // false: another scheduler handled this request first
	Created int64   // a build created for new trigger inputs, or 0
	Started []int64 // pending builds given inputs and room to run
	Again   bool    // the job asked to be scheduled once more (schedule.Decision.Again)
	// Traces are the started builds' spans, by build id.
	Traces map[int64]telemetry.Stored
}

// SaveResolution records a resolution and acts on it in one transaction: it
// stores the job's next build inputs, reads the job's state, asks
// schedule.Decide what to do (create a build for new trigger inputs, start
// pending builds) and does it. It does nothing if the request was handled
// already, so that two hubs never schedule one request twice.
func (s *Store) SaveResolution(ctx context.Context, r Resolution) (Scheduled, error) {
	var out Scheduled
	defer s.lockJob(r.JobID)()
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		out = Scheduled{}
		job, handled, plan, err := s.jobState(ctx, tx, r)
		if err != nil || handled >= r.Seq {
			return err
		}
		out.Handled = true
		ok := len(r.Errors) == 0
		errs, _ := json.Marshal(r.Errors)
		if _, err := tx.Exec(ctx, `UPDATE jobs SET scheduled_seq = $2, inputs_determined = $3, resolve_errors = $4,
			has_new_inputs = $5, last_scheduled = now() WHERE id = $1`, r.JobID, r.Seq, ok, string(errs), ok && job.NewInputs); err != nil {
			return err
		}
		inputs, err := saveNextInputs(ctx, tx, r)
		if err != nil {
			return err
		}
		d := schedule.Decide(job)
		if d.Create {
			if out.Created, err = createTriggeredBuild(ctx, tx, r.JobID); err != nil {
				return err
			}
		}
		starts := slices.Clone(d.Start)
		for i := range starts {
			if starts[i].ID == 0 {
				starts[i].ID = out.Created
			}
			out.Started = append(out.Started, starts[i].ID)
		}
		if out.Traces, err = s.startBuilds(ctx, tx, r, starts, plan, inputs); err != nil {
			return err
		}
		if out.Again = d.Again; d.Again {
			_, err = tx.Exec(ctx, `UPDATE jobs SET schedule_seq = schedule_seq + 1 WHERE id = $1`, r.JobID)
		}
		return err
	})
	if err != nil {
		return Scheduled{}, fmt.Errorf("schedule job %d: %w", r.JobID, err)
	}
	return out, nil
}

// jobState reads what schedule.Decide needs of a job, the request the job
// handled last and its stored plan.
func (s *Store) jobState(ctx context.Context, tx pgx.Tx, r Resolution) (schedule.Job, int64, json.RawMessage, error) {
	j := schedule.Job{InputsOK: len(r.Errors) == 0, HasNext: r.HasNext}
	for _, in := range r.Inputs {
		j.NewInputs = j.NewInputs || (in.Trigger && in.FirstOccurrence)
	}
	var handled int64
	var plan json.RawMessage
	// The running builds and the oldest waiting build of the job's serial
	// group peers matter only under max_in_flight.
	err := tx.QueryRow(ctx, `WITH peers AS (
			SELECT $1::BIGINT AS job_id
			UNION SELECT g2.job_id FROM job_serial_groups g1
			JOIN job_serial_groups g2 ON g2.serial_group = g1.serial_group WHERE g1.job_id = $1)
		SELECT j.scheduled_seq, j.paused OR p.paused, j.max_in_flight, COALESCE(j.plan, 'null'),
			CASE WHEN j.max_in_flight > 0 THEN (SELECT count(*) FROM builds b JOIN peers ON peers.job_id = b.job_id
				WHERE b.status = 'started' OR (b.status = 'pending' AND b.scheduled)) ELSE 0 END,
			CASE WHEN j.max_in_flight > 0 THEN (SELECT COALESCE(min(b.id), 0) FROM builds b JOIN peers ON peers.job_id = b.job_id
				WHERE b.status = 'pending' AND NOT b.scheduled AND b.job_id <> $1) ELSE 0 END
		FROM jobs j JOIN pipelines p ON p.id = j.pipeline_id WHERE j.id = $1`, r.JobID).
		Scan(&handled, &j.Paused, &j.MaxInFlight, &plan, &j.Running, &j.OldestPeerPending)
	if err == nil {
		err = s.keys.openRaw(&plan)
	}
	if err != nil || handled >= r.Seq {
		return j, handled, plan, err
	}
	rows, err := tx.Query(ctx, `SELECT b.id, b.rerun_of IS NOT NULL,
			b.rerun_of IS NOT NULL AND EXISTS (SELECT 1 FROM build_inputs i WHERE i.build_id = b.rerun_of)
		FROM builds b WHERE b.job_id = $1 AND b.status = 'pending' AND NOT b.scheduled ORDER BY b.id LIMIT $2`, r.JobID, PendingPerRound+1)
	if err != nil {
		return j, handled, plan, err
	}
	j.Pending, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (schedule.Pending, error) {
		var b schedule.Pending
		err := row.Scan(&b.ID, &b.Rerun, &b.OriginalHasInputs)
		return b, err
	})
	if len(j.Pending) > PendingPerRound {
		j.Pending, j.MorePending = j.Pending[:PendingPerRound], true
	}
	return j, handled, plan, err
}

// PendingPerRound bounds the pending builds one scheduling round reads (and
// starts): a burst of triggers starts in rounds of that many, each asking for
// the next.
const PendingPerRound = 500

// nextInput is a resolved input with its version's content.
type nextInput struct {
	ResolvedInput
	digest  string
	version map[string]string
}

// saveNextInputs replaces the job's next build inputs and returns them with
// their versions.
func saveNextInputs(ctx context.Context, tx pgx.Tx, r Resolution) ([]nextInput, error) {
	if _, err := tx.Exec(ctx, `DELETE FROM next_build_inputs WHERE job_id = $1`, r.JobID); err != nil {
		return nil, err
	}
	out := make([]nextInput, 0, len(r.Inputs))
	for _, in := range r.Inputs {
		n := nextInput{ResolvedInput: in}
		err := tx.QueryRow(ctx, `SELECT digest, version FROM resource_versions WHERE id = $1`, in.VersionID).Scan(&n.digest, &n.version)
		if err != nil {
			return nil, fmt.Errorf("version %d of input %s: %w", in.VersionID, in.Name, err)
		}
		passed, _ := json.Marshal(in.PassedBuilds)
		if _, err := tx.Exec(ctx, `INSERT INTO next_build_inputs (job_id, name, resource_id, version_digest, first_occurrence, passed_build_ids)
			VALUES ($1, $2, $3, $4, $5, $6)`, r.JobID, in.Name, in.ResourceID, n.digest, in.FirstOccurrence, string(passed)); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// createTriggeredBuild creates a pending build of the job for new trigger
// inputs.
func createTriggeredBuild(ctx context.Context, tx pgx.Tx, jobID int64) (int64, error) {
	teamID, pipelineID, name, err := nextBuild(ctx, tx, jobID)
	if err != nil {
		return 0, err
	}
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO builds (name, team_id, pipeline_id, job_id) VALUES ($1, $2, $3, $4) RETURNING id`,
		name, teamID, pipelineID, jobID).Scan(&id)
	return id, err
}

// startBuilds gives pending builds their inputs (the resolved ones, or
// their originals' for reruns) and their plans with those versions, and
// returns their traces. What the builds that are not reruns are given is
// the same for all of them, so it is filled in once, and their statements
// go in one round trip.
func (s *Store) startBuilds(ctx context.Context, tx pgx.Tx, r Resolution, starts []schedule.Start, plan json.RawMessage, inputs []nextInput) (map[int64]telemetry.Stored, error) {
	if len(starts) == 0 {
		return nil, nil
	}
	traces := make(map[int64]telemetry.Stored, len(starts))
	var b pgx.Batch
	var resolved string // the plan with the resolved inputs' versions, sealed
	for _, st := range starts {
		var sealed string
		if st.Rerun {
			versions, err := adoptRerunInputs(ctx, tx, st.ID)
			if err != nil {
				return nil, err
			}
			filled, err := r.Plan(plan, versions)
			if err != nil {
				return nil, err
			}
			sealed = s.keys.sealText(filled)
		} else {
			if resolved == "" {
				versions := map[string]map[string]string{}
				for _, in := range inputs {
					versions[in.Name] = in.version
				}
				filled, err := r.Plan(plan, versions)
				if err != nil {
					return nil, err
				}
				resolved = s.keys.sealText(filled)
			}
			sealed = resolved
			queueInputs(&b, r.JobID, st.ID, inputs, st.FirstOccurrence)
		}
		id := st.ID
		b.Queue(`UPDATE builds SET plan = $2, scheduled = true, inputs_ready = true WHERE id = $1 RETURNING trace_span, trace_parent`,
			id, sealed).QueryRow(func(row pgx.Row) error {
			var span, parent string
			err := row.Scan(&span, &parent)
			traces[id] = telemetry.ParseStored(span, parent)
			return err
		})
	}
	return traces, tx.SendBatch(ctx, &b).Close()
}

// queueInputs queues the statements that record the next build inputs as
// the build's, with the build pipes from the upstream builds they passed
// through; their first occurrences only when first.
func queueInputs(b *pgx.Batch, jobID, buildID int64, inputs []nextInput, first bool) {
	for _, in := range inputs {
		b.Queue(`INSERT INTO build_inputs (build_id, job_id, name, resource_id, version_digest, first_occurrence)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, buildID, jobID, in.Name, in.ResourceID, in.digest, first && in.FirstOccurrence)
		for _, from := range in.PassedBuilds {
			b.Queue(`INSERT INTO build_pipes (from_build_id, to_build_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, from, buildID)
		}
	}
}

// adoptRerunInputs copies the inputs and pipes of the build that build
// reruns to it.
func adoptRerunInputs(ctx context.Context, tx pgx.Tx, build int64) (map[string]map[string]string, error) {
	rows, err := tx.Query(ctx, `SELECT i.name, v.version FROM builds b JOIN build_inputs i ON i.build_id = b.rerun_of
		JOIN resource_versions v ON v.resource_id = i.resource_id AND v.digest = i.version_digest
		WHERE b.id = $1`, build)
	if err != nil {
		return nil, err
	}
	versions := map[string]map[string]string{}
	var name string
	var version map[string]string
	if _, err := pgx.ForEachRow(rows, []any{&name, &version}, func() error {
		versions[name] = version
		return nil
	}); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO build_inputs (build_id, job_id, name, resource_id, version_digest, first_occurrence)
		SELECT b.id, i.job_id, i.name, i.resource_id, i.version_digest, false FROM builds b JOIN build_inputs i ON i.build_id = b.rerun_of
		WHERE b.id = $1 ON CONFLICT DO NOTHING`, build); err != nil {
		return nil, err
	}
	_, err = tx.Exec(ctx, `INSERT INTO build_pipes (from_build_id, to_build_id)
		SELECT p.from_build_id, b.id FROM builds b JOIN build_pipes p ON p.to_build_id = b.rerun_of WHERE b.id = $1
		ON CONFLICT DO NOTHING`, build)
	return versions, err
}

// requestSchedule asks for the jobs the where clause selects (over jobs j) to
// be scheduled again.
func requestSchedule(ctx context.Context, tx pgx.Tx, where string, args ...any) error {
	_, err := tx.Exec(ctx, requestScheduleSQL(where), args...)
	return err
}

// requestScheduleSQL is requestSchedule's statement, for a batch.
func requestScheduleSQL(where string) string {
	return `UPDATE jobs SET schedule_seq = schedule_seq + 1 WHERE active AND id IN (` + where + `)`
}

// RequestSchedule asks for a job to be scheduled again (fly schedule-job,
// unpause, a manual trigger).
func (s *Store) RequestSchedule(ctx context.Context, jobID int64) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error { return requestSchedule(ctx, tx, `SELECT $1::BIGINT`, jobID) })
	if err != nil {
		return fmt.Errorf("request scheduling of job %d: %w", jobID, err)
	}
	return nil
}

// RequestPipelineSchedule asks for every job of a pipeline to be scheduled again.
func (s *Store) RequestPipelineSchedule(ctx context.Context, pipelineID int64) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		return requestSchedule(ctx, tx, `SELECT id FROM jobs WHERE pipeline_id = $1`, pipelineID)
	})
	if err != nil {
		return fmt.Errorf("request scheduling of pipeline %d: %w", pipelineID, err)
	}
	return nil
}

// PassedJobState is what explains a passed constraint that nothing satisfies.
type PassedJobState struct {
	Name         string
	Succeeded    bool // the job has a succeeded build
	WithResource bool // one of them has an enabled version of the resource in its output set
}

// PassedJobStates reads the state of passed jobs, in the order given.
func (s *Store) PassedJobStates(ctx context.Context, jobIDs []int64, resourceID int64) ([]PassedJobState, error) {
	out := make([]PassedJobState, 0, len(jobIDs))
	for _, id := range jobIDs {
		var st PassedJobState
		err := s.row(ctx, `SELECT j.name,
			EXISTS (SELECT 1 FROM builds b WHERE b.job_id = j.id AND b.status = 'succeeded'),
			EXISTS (SELECT 1 FROM successful_build_outputs o JOIN resource_versions v
				ON v.resource_id = o.resource_id AND v.digest = o.version_digest AND NOT v.disabled
				WHERE o.job_id = j.id AND o.resource_id = $2)
			FROM jobs j WHERE j.id = $1`, id, resourceID).Scan(&st.Name, &st.Succeeded, &st.WithResource)
		if err != nil {
			return nil, fmt.Errorf("read passed job %d: %w", id, err)
		}
		out = append(out, st)
	}
	return out, nil
}

// PipelinesWithoutSchedules lists pipelines with active jobs that have no
// stored plan (saved before migration 0003).
func (s *Store) PipelinesWithoutSchedules(ctx context.Context) ([]int64, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT DISTINCT j.pipeline_id FROM jobs j JOIN pipelines p ON p.id = j.pipeline_id
			WHERE j.active AND j.plan IS NULL AND NOT p.archived ORDER BY 1`)
	}, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list pipelines without schedules: %w", err)
	}
	return out, nil
}

// SaveSchedules replaces the scheduling rows of a pipeline's jobs, as saving
// its config does.
func (s *Store) SaveSchedules(ctx context.Context, pipelineID int64, jobs []Part) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error { return s.saveSchedules(ctx, tx, pipelineID, jobs) })
	if err != nil {
		return fmt.Errorf("save schedules of pipeline %d: %w", pipelineID, err)
	}
	return nil
}

package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard-ci/switchyard/api"
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

// RecordBuild stores a finished build with its inputs and outputs and, when
// it succeeded, its output set: its outputs, then its inputs, in order (the
// algorithm reads the first enabled version of each resource). It returns
// the build's id.
func (s *Store) RecordBuild(ctx context.Context, r BuildRecord) (int64, error) {
	ids, err := s.RecordBuilds(ctx, []BuildRecord{r}, nil)
	if err != nil {
		return 0, err
	}
	return ids[0], nil
}

// recordChunk is how many builds RecordBuilds writes per transaction.
const recordChunk = 500

// RecordBuilds stores builds in order, as RecordBuild does, a chunk per
// transaction. rerunOf, when given, names for build i the index of an earlier
// build in records that it reruns (-1: none); it overrides RerunOf.
func (s *Store) RecordBuilds(ctx context.Context, records []BuildRecord, rerunOf []int) ([]int64, error) {
	ids := make([]int64, len(records))
	for start := 0; start < len(records); start += recordChunk {
		end := min(start+recordChunk, len(records))
		err := s.Tx(ctx, func(tx pgx.Tx) error {
			return recordChunkTx(ctx, tx, records, rerunOf, ids, start, end)
		})
		if err != nil {
			return nil, fmt.Errorf("record builds: %w", err)
		}
	}
	return ids, nil
}

func recordChunkTx(ctx context.Context, tx pgx.Tx, records []BuildRecord, rerunOf []int, ids []int64, start, end int) error {
	var batch pgx.Batch
	for i := start; i < end; i++ {
		r := records[i]
		teamID, pipelineID, name, err := nextBuild(ctx, tx, r.JobID)
		if err != nil {
			return err
		}
		rerun := r.RerunOf
		if rerunOf != nil && rerunOf[i] >= 0 {
			rerun = ids[rerunOf[i]]
		}
		var rerunArg *int64
		if rerun != 0 {
			rerunArg = &rerun
		}
		if err := tx.QueryRow(ctx, `
			INSERT INTO builds (name, team_id, pipeline_id, job_id, status, rerun_of, end_time)
			VALUES ($1, $2, $3, $4, $5, $6, now()) RETURNING id`,
			name, teamID, pipelineID, r.JobID, r.Status, rerunArg).Scan(&ids[i]); err != nil {
			return err
		}
		queueHistory(&batch, ids[i], rerun, r)
	}
	return tx.SendBatch(ctx, &batch).Close()
}

// queueHistory queues a build's inputs, outputs and output set.
func queueHistory(batch *pgx.Batch, id, rerun int64, r BuildRecord) {
	var set outputSet
	for i, out := range r.Outputs {
		d := digest(out.Version)
		batch.Queue(`INSERT INTO build_outputs (build_id, position, resource_id, version_digest) VALUES ($1, $2, $3, $4)`,
			id, i, out.ResourceID, d)
		set.add(out.ResourceID, d)
	}
	for _, in := range r.Inputs {
		d := digest(in.Version)
		batch.Queue(`INSERT INTO build_inputs (build_id, job_id, name, resource_id, version_digest) VALUES ($1, $2, $3, $4, $5)`,
			id, r.JobID, in.Name, in.ResourceID, d)
		set.add(in.ResourceID, d)
	}
	if api.BuildStatus(r.Status) == api.BuildSucceeded {
		set.queue(batch, id, r.JobID, rerun)
	}
}

// outputSet is a succeeded build's output set being built: every version
// added (outputs first, then inputs), once each, in order. The algorithm
// reads, per resource, the first of them that is enabled when it asks.
type outputSet struct {
	seen  map[outputKey]bool
	order []outputKey
}

type outputKey struct {
	resource int64
	digest   string
}

func (o *outputSet) add(resource int64, d string) {
	if o.seen == nil {
		o.seen = map[outputKey]bool{}
	}
	k := outputKey{resource, d}
	if !o.seen[k] {
		o.seen[k] = true
		o.order = append(o.order, k)
	}
}

// queue inserts the set; reruns sort with the build they rerun.
func (o *outputSet) queue(batch *pgx.Batch, buildID, jobID, rerunOf int64) {
	order := buildID
	if rerunOf != 0 {
		order = rerunOf
	}
	if len(o.order) == 0 {
		return
	}
	resources, digests := make([]int64, len(o.order)), make([]string, len(o.order))
	for i, k := range o.order {
		resources[i], digests[i] = k.resource, k.digest
	}
	batch.Queue(`INSERT INTO successful_build_outputs (build_id, job_id, build_order, resource_id, version_digest, position)
		SELECT $1, $2, $3, s.resource_id, s.version_digest, s.n - 1 FROM unnest($4::BIGINT[], $5::TEXT[]) WITH ORDINALITY AS s (resource_id, version_digest, n)
		ON CONFLICT DO NOTHING`, buildID, jobID, order, resources, digests)
}

// FinishBuild moves a started build to its final status with its event, if
// its fence still is fence (a no-op when it has that status already,
// ErrStale when its status or fence moved), and in the same transaction
// records its outputs and, when it succeeded, its output set; then it asks
// for the jobs the build may affect to be scheduled: the job itself, the
// jobs that pass it, the jobs sharing a serial group with it.
//
// jobID is the build's job (0: a one-off build): finishing writes the job's
// row, so the builds of a job that end at once are finished together, in
// one transaction queued behind the job's triggers and scheduling
// (batches, lockJob).
func (s *Store) FinishBuild(ctx context.Context, id, jobID, fence int64, status api.BuildStatus, outputs []RecordedOutput, event Event) error {
	a := &finishAsk{id: id, fence: fence, status: status, outputs: outputs, event: event}
	var err error
	if jobID == 0 {
		err = s.finishBuilds(ctx, []*finishAsk{a})
	} else {
		err = s.finishes.do(ctx, s, jobID, a, s.finishBuilds)
	}
	if err == nil {
		err = a.err
	}
	if err != nil {
		return fmt.Errorf("finish build %d: %w", id, err)
	}
	return nil
}

// finishAsk is one build to finish, and what finishing found (err: this
// build's own answer, ErrStale or ErrNotFound).
type finishAsk struct {
	id, fence int64
	status    api.BuildStatus
	outputs   []RecordedOutput
	event     Event

	found finished
	err   error
}

// finishBuilds finishes builds (of one job, or one one-off build) in one
// transaction: each moves on its own (queueFinishStatus), and what they record
// and ask then goes in one batch, with one scheduling request.
func (s *Store) finishBuilds(ctx context.Context, asks []*finishAsk) error {
	return s.Tx(ctx, func(tx pgx.Tx) error {
		var moves pgx.Batch
		for _, a := range asks {
			a.found, a.err = finished{}, nil
			queueFinishStatus(&moves, a)
		}
		if err := tx.SendBatch(ctx, &moves).Close(); err != nil {
			return err
		}
		var batch pgx.Batch
		var jobID, lastSucceeded int64
		for _, a := range asks {
			f := a.found
			if a.err != nil || !f.changed || f.jobID == 0 {
				continue
			}
			jobID = f.jobID
			var set outputSet
			for i, out := range a.outputs {
				d := digest(out.Version)
				batch.Queue(`INSERT INTO build_outputs (build_id, position, resource_id, version_digest) VALUES ($1, $2, $3, $4)
					ON CONFLICT DO NOTHING`, a.id, i, out.ResourceID, d)
				set.add(out.ResourceID, d)
			}
			if a.status == api.BuildSucceeded {
				lastSucceeded = max(lastSucceeded, a.id)
				for i, res := range f.inputResources {
					set.add(res, f.inputDigests[i])
				}
				set.queue(&batch, a.id, f.jobID, f.rerunOf)
			}
		}
		if jobID == 0 {
			return nil
		}
		if lastSucceeded != 0 {
			// Pipelines the job set before and did not set in its last
			// succeeded build are archived, as Concourse archives them.
			batch.Queue(`UPDATE pipelines SET archived = true, archived_at = now(), paused = true, config = '{}', config_version = 0
				WHERE parent_job_id = $1 AND parent_build_id < $2 AND NOT archived`, jobID, lastSucceeded)
		}
		batch.Queue(requestScheduleSQL(`SELECT $1::BIGINT
			UNION SELECT job_id FROM job_input_passed WHERE passed_job_id = $1
			UNION SELECT g2.job_id FROM job_serial_groups g1 JOIN job_serial_groups g2 ON g2.serial_group = g1.serial_group
				WHERE g1.job_id = $1`), jobID)
		return tx.SendBatch(ctx, &batch).Close()
	})
}

// finished is what finishStatus found of a build: whether it moved it, its
// job (0: a one-off build), the build it reruns, and its inputs' versions
// in the order of their names.
type finished struct {
	changed        bool
	jobID, rerunOf int64
	inputResources []int64
	inputDigests   []string
}

// queueFinishStatus queues the statement that moves a started build to
// its final status with its event if its fence still is a.fence (a no-op
// when it has that status; ErrStale in a.err when its status or fence
// moved, ErrNotFound when there is no such build), and reads what
// finishing it needs into a.found.
func queueFinishStatus(b *pgx.Batch, a *finishAsk) {
	types, versions, payloads := eventColumns([]Event{a.event})
	b.Queue(`
		WITH old AS (SELECT status, fence, COALESCE(job_id, 0) AS job_id, COALESCE(rerun_of, 0) AS rerun_of FROM builds WHERE id = $1),
		moved AS (
			UPDATE builds b SET status = $3, end_time = now(), event_seq = b.event_seq + cardinality($4::TEXT[])
			FROM old WHERE b.id = $1 AND old.status = 'started' AND old.fence = $2 AND $3 <> 'started'
			RETURNING b.event_seq - cardinality($4::TEXT[]) AS last),
		logged AS (`+insertEvents("moved", 4)+`)
		SELECT COALESCE(old.status, ''), COALESCE(old.job_id, 0), COALESCE(old.rerun_of, 0), EXISTS (SELECT 1 FROM moved),
			COALESCE((SELECT array_agg(i.resource_id ORDER BY i.name) FROM build_inputs i WHERE i.build_id = $1), '{}'),
			COALESCE((SELECT array_agg(i.version_digest ORDER BY i.name) FROM build_inputs i WHERE i.build_id = $1), '{}')
		FROM (SELECT 1) AS one LEFT JOIN old ON true`, a.id, a.fence, a.status, types, versions, payloads).
		QueryRow(func(row pgx.Row) error {
			var was api.BuildStatus
			f := &a.found
			if err := row.Scan(&was, &f.jobID, &f.rerunOf, &f.changed, &f.inputResources, &f.inputDigests); err != nil {
				return err
			}
			switch {
			case was == "":
				a.err = ErrNotFound
			case !f.changed && was != a.status:
				a.err = ErrStale
			}
			return nil
		})
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

// CopyVersions stores many new versions of a resource at once (imports and
// benchmarks), with check orders first, first+1, ... in the order given.
func (s *Store) CopyVersions(ctx context.Context, resourceID int64, versions []map[string]string, first int64) error {
	rows := make([][]any, len(versions))
	for i, v := range versions {
		vj, err := json.Marshal(v)
		if err != nil {
			return err
		}
		rows[i] = []any{resourceID, string(vj), digest(v), first + int64(i)}
	}
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"resource_versions"}, []string{"resource_id", "version", "digest", "check_order"},
			pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return fmt.Errorf("copy versions of resource %d: %w", resourceID, err)
	}
	return nil
}

// Analyze refreshes the planner's statistics of the history tables; call it
// after a bulk import, or the first queries run on plans made for empty tables.
func (s *Store) Analyze(ctx context.Context) error {
	for _, table := range []string{"resource_versions", "builds", "build_inputs", "build_outputs", "successful_build_outputs", "build_pipes"} {
		if _, err := s.pool.Exec(ctx, `ANALYZE `+table); err != nil {
			return fmt.Errorf("analyze %s: %w", table, err)
		}
	}
	return nil
}

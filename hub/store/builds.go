package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/telemetry"
)

// Build is a row of builds, with the names of what it belongs to.
type Build struct {
	ID           int64
	Name         string
	TeamID       int64
	TeamName     string
	PipelineID   int64
	PipelineName string
	InstanceVars string
	JobID        int64
	JobName      string
	ResourceName string // check builds
	Status       api.BuildStatus
	Fence        int64
	RerunOf      int64
	CreatedBy    string
	Plan         json.RawMessage
	Comment      string
	CreateTime   time.Time
	StartTime    *time.Time
	EndTime      *time.Time
	// The build's span as stored (W3C traceparent, parent span id), made as
	// it was created; read by Trace, so that lists of builds parse nothing.
	traceSpan, traceParent string
}

// Trace is the build's span, to end or to start its children under.
func (b Build) Trace() telemetry.Stored { return telemetry.ParseStored(b.traceSpan, b.traceParent) }

const (
	buildColumnsHead = `b.id, b.name, b.team_id, t.name, COALESCE(b.pipeline_id, 0), COALESCE(p.name, ''), COALESCE(p.instance_vars, ''),
	COALESCE(b.job_id, 0), COALESCE(j.name, ''), COALESCE(r.name, ''), b.status, b.fence, COALESCE(b.rerun_of, 0), b.created_by, `
	buildColumnsTail = `, b.comment, b.create_time, b.start_time, b.end_time, b.trace_span, b.trace_parent`
	buildColumns     = buildColumnsHead + `COALESCE(b.plan, 'null')` + buildColumnsTail
	// listColumns leave the plan out: no list shows it, and it is most of
	// a build's row.
	listColumns = buildColumnsHead + `'null'::JSONB` + buildColumnsTail
)

const buildFrom = ` FROM builds b JOIN teams t ON t.id = b.team_id
	LEFT JOIN pipelines p ON p.id = b.pipeline_id LEFT JOIN jobs j ON j.id = b.job_id
	LEFT JOIN resources r ON r.id = b.resource_id`

func (s *Store) scanBuild(row pgx.Row) (Build, error) {
	var b Build
	err := row.Scan(&b.ID, &b.Name, &b.TeamID, &b.TeamName, &b.PipelineID, &b.PipelineName, &b.InstanceVars,
		&b.JobID, &b.JobName, &b.ResourceName, &b.Status, &b.Fence, &b.RerunOf, &b.CreatedBy, &b.Plan, &b.Comment,
		&b.CreateTime, &b.StartTime, &b.EndTime, &b.traceSpan, &b.traceParent)
	if err == nil {
		err = s.keys.openRaw(&b.Plan)
	}
	return b, err
}

// traceOf is what a new build's trace columns hold: a child of the
// creator's W3C traceparent (a trigger request's), or with none (or a
// malformed one) a new trace, as the columns' defaults make for builds the
// hub creates itself.
func traceOf(traceparent string) (span, parent string) {
	return telemetry.FormatStored(telemetry.NewStored(telemetry.ParseTraceparent(traceparent)))
}

// SaveJob creates or updates a job of a pipeline and returns its id.
func (s *Store) SaveJob(ctx context.Context, pipelineID int64, name string, config []byte) (int64, error) {
	var id int64
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
			INSERT INTO jobs (pipeline_id, name, config) VALUES ($1, $2, $3)
			ON CONFLICT (pipeline_id, name) DO UPDATE SET config = excluded.config, active = true
			RETURNING id`, pipelineID, name, s.keys.sealText(config)).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("save job %s: %w", name, err)
	}
	return id, nil
}

// nextBuild takes a job's next build number within tx and returns it as the
// build's name, with the job's team and pipeline.
func nextBuild(ctx context.Context, tx pgx.Tx, jobID int64) (teamID, pipelineID int64, name string, err error) {
	teamID, pipelineID, n, err := nextBuilds(ctx, tx, jobID, 1)
	return teamID, pipelineID, strconv.FormatInt(n, 10), err
}

// nextBuilds takes a job's next n build numbers within tx and returns the
// first, with the job's team and pipeline. It writes first, so that
// concurrent builds of one job (other hubs' too) queue on the row lock
// instead of all reading the old number and all but one retrying.
func nextBuilds(ctx context.Context, tx pgx.Tx, jobID int64, n int) (teamID, pipelineID, first int64, err error) {
	var last int64
	err = tx.QueryRow(ctx, `
		UPDATE jobs j SET build_number_seq = j.build_number_seq + $2
		FROM pipelines p WHERE p.id = j.pipeline_id AND j.id = $1
		RETURNING p.team_id, j.pipeline_id, j.build_number_seq`, jobID, n).Scan(&teamID, &pipelineID, &last)
	return teamID, pipelineID, last - int64(n) + 1, err
}

// CreateRerun creates a rerun of a job's build, named NAME.k as Concourse names
// reruns; the scheduler gives it the original's inputs. ErrNoInputs when the
// original has none.
func (s *Store) CreateRerun(ctx context.Context, of Build, createdBy, traceparent string) (Build, error) {
	var id int64
	span, parent := traceOf(traceparent)
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		var inputs bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM build_inputs WHERE build_id = $1)`, of.ID).Scan(&inputs); err != nil {
			return err
		}
		if !inputs {
			return ErrNoInputs
		}
		var n int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(max(rerun_number), 0) + 1 FROM builds WHERE rerun_of = $1`, of.ID).Scan(&n); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `
			INSERT INTO builds (name, team_id, pipeline_id, job_id, created_by, manually_triggered, rerun_of, rerun_number, trace_span, trace_parent)
			VALUES ($1, $2, $3, $4, $5, true, $6, $7, $8, $9) RETURNING id`,
			fmt.Sprintf("%s.%d", of.Name, n), of.TeamID, of.PipelineID, of.JobID, createdBy, of.ID, n, span, parent).Scan(&id); err != nil {
			return err
		}
		return requestSchedule(ctx, tx, `SELECT $1::BIGINT`, of.JobID)
	})
	if err != nil {
		return Build{}, fmt.Errorf("rerun build %s: %w", of.Name, err)
	}
	return s.Build(ctx, id)
}

// CreateOneOffBuild creates a build of a plan (fly execute), of a team or
// bound to a pipeline (pipelineID 0: none), named by its id as Concourse
// names them, ready for the engine to run.
func (s *Store) CreateOneOffBuild(ctx context.Context, teamID, pipelineID int64, createdBy string, plan json.RawMessage, traceparent string) (Build, error) {
	var id int64
	span, parent := traceOf(traceparent)
	var pipeline any
	if pipelineID != 0 {
		pipeline = pipelineID
	}
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO builds (name, team_id, pipeline_id, created_by, manually_triggered, plan, scheduled, trace_span, trace_parent)
			VALUES ('', $1, $2, $3, true, $4, true, $5, $6) RETURNING id`,
			teamID, pipeline, createdBy, s.keys.sealText(plan), span, parent).Scan(&id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE builds SET name = id::TEXT WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return Build{}, fmt.Errorf("create one-off build: %w", err)
	}
	return s.Build(ctx, id)
}

// CreateCheckBuild creates a pending check build of a resource, named "check"
// as Concourse names them, and deletes its finished earlier ones.
func (s *Store) CreateCheckBuild(ctx context.Context, resourceID int64, createdBy string, plan json.RawMessage) (Build, error) {
	b, _, err := s.createCheckBuild(ctx, resourceID, createdBy, plan, 0)
	return b, err
}

// StartPeriodicCheck claims a due resource's periodic check and creates its
// check build in one transaction, moving the next check to now + after.
// started is false when the check is not due any more or one is running (two
// hubs never start one check twice).
func (s *Store) StartPeriodicCheck(ctx context.Context, resourceID int64, after time.Duration, plan json.RawMessage) (b Build, started bool, err error) {
	return s.createCheckBuild(ctx, resourceID, "", plan, after)
}

// createCheckBuild creates a check build; with after > 0 only if the
// periodic check is due and none runs, claiming it.
func (s *Store) createCheckBuild(ctx context.Context, resourceID int64, createdBy string, plan json.RawMessage, after time.Duration) (Build, bool, error) {
	var id int64
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		id = 0
		if after > 0 {
			tag, err := tx.Exec(ctx, `UPDATE resources SET next_check = now() + $2 * INTERVAL '1 millisecond'
				WHERE id = $1 AND (next_check IS NULL OR next_check <= now())
				AND NOT EXISTS (SELECT 1 FROM builds WHERE resource_id = $1 AND status IN ('pending', 'started'))`,
				resourceID, after.Milliseconds())
			if err != nil || tag.RowsAffected() == 0 {
				return err
			}
		}
		// Only the latest check build of a resource is kept, as in Concourse.
		if _, err := tx.Exec(ctx, `DELETE FROM builds WHERE resource_id = $1 AND status NOT IN ('pending', 'started')`, resourceID); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `
			INSERT INTO builds (name, team_id, pipeline_id, resource_id, created_by, manually_triggered, plan, scheduled)
			SELECT 'check', p.team_id, p.id, r.id, $2, $4, $3, true
			FROM resources r JOIN pipelines p ON p.id = r.pipeline_id WHERE r.id = $1
			RETURNING id`, resourceID, createdBy, s.keys.sealText(plan), after == 0).Scan(&id)
	})
	if err != nil {
		return Build{}, false, fmt.Errorf("create check build of resource %d: %w", resourceID, err)
	}
	if id == 0 {
		return Build{}, false, nil
	}
	b, err := s.Build(ctx, id)
	return b, err == nil, err
}

// Build returns a build or ErrNotFound.
func (s *Store) Build(ctx context.Context, id int64) (Build, error) {
	b, err := s.scanBuild(s.row(ctx, `SELECT `+buildColumns+buildFrom+` WHERE b.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Build{}, fmt.Errorf("build %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Build{}, fmt.Errorf("get build %d: %w", id, err)
	}
	return b, nil
}

// JobBuildByName returns a job's build by name or ErrNotFound.
func (s *Store) JobBuildByName(ctx context.Context, jobID int64, name string) (Build, error) {
	b, err := s.scanBuild(s.row(ctx, `SELECT `+buildColumns+buildFrom+` WHERE b.job_id = $1 AND b.name = $2`, jobID, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return Build{}, fmt.Errorf("build %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return Build{}, fmt.Errorf("get build %s: %w", name, err)
	}
	return b, nil
}

// BuildFilter selects builds for a list; zero fields do not filter.
type BuildFilter struct {
	TeamIDs    []int64 // nil: any team
	PipelineID int64
	JobID      int64
	Checks     bool // check builds only, which are otherwise left out, as in Concourse's lists
}

// Page is Concourse's build paging. Builds come newest first in build order
// (a rerun next to the build it reruns). By id, From gives the Limit builds
// from build From on that are closest to it, To the builds up to build To;
// with Timestamps, From and To are Unix seconds that bound start_time. The
// bounds are inclusive; Limit bounds the page.
type Page struct {
	From, To   int64
	Limit      int
	Timestamps bool
}

// buildOrder is a build's place in lists; orderOf is that of the build
// whose id is the parameter p (or of an id no build has any more).
const buildOrder = `(COALESCE(b.rerun_of, b.id), b.id)`

func orderOf(p string) string {
	return `(COALESCE((SELECT COALESCE(x.rerun_of, x.id) FROM builds x WHERE x.id = ` + p + `), ` + p + `), ` + p + `)`
}

// Builds lists builds newest first, one page of them, without their plans.
// Check builds are listed only when the filter asks for them.
func (s *Store) Builds(ctx context.Context, f BuildFilter, page Page) ([]Build, error) {
	if page.Limit <= 0 || page.Limit > 1000 {
		page.Limit = 100
	}
	// Spelled out, not a parameter, so that the planner can use the
	// partial index of listed builds.
	checks := ` AND b.resource_id IS NULL AND b.resource_type_id IS NULL`
	if f.Checks {
		checks = ` AND (b.resource_id IS NOT NULL OR b.resource_type_id IS NOT NULL)`
	}
	where := ` WHERE ($1::BIGINT[] IS NULL OR b.team_id = ANY($1)) AND ($2 = 0 OR b.pipeline_id = $2) AND ($3 = 0 OR b.job_id = $3)` + checks
	newest := ` ORDER BY COALESCE(b.rerun_of, b.id) DESC, b.id DESC LIMIT $6`
	upTo := ` AND ($5 = 0 OR ` + buildOrder + ` <= ` + orderOf("$5") + `)`
	var q string
	switch {
	case page.Timestamps:
		q = `SELECT ` + listColumns + buildFrom + where + `
			AND ($4 = 0 OR b.start_time >= to_timestamp($4)) AND ($5 = 0 OR b.start_time <= to_timestamp($5))` + newest
	case page.From > 0: // the builds closest to From, still newest first
		q = `SELECT ` + listColumns + buildFrom + ` WHERE b.id IN (SELECT b.id FROM builds b` + where + `
			AND ` + buildOrder + ` >= ` + orderOf("$4") + upTo + `
			ORDER BY COALESCE(b.rerun_of, b.id) ASC, b.id ASC LIMIT $6)` + newest
	default:
		q = `SELECT ` + listColumns + buildFrom + where + ` AND $4 = 0` + upTo + newest
	}
	args := []any{f.TeamIDs, f.PipelineID, f.JobID, page.From, page.To, page.Limit}
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, q, args...)
	}, func(r pgx.CollectableRow) (Build, error) { return s.scanBuild(r) })
	if err != nil {
		return nil, fmt.Errorf("list builds: %w", err)
	}
	return out, nil
}

// ActiveBuilds returns the ids of started builds and of pending builds the
// scheduler let run, oldest first.
func (s *Store) ActiveBuilds(ctx context.Context) ([]int64, error) {
	ids, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT id FROM builds WHERE status IN ('pending', 'started') AND (scheduled OR status = 'started')
			ORDER BY id LIMIT 10000`)
	}, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list active builds: %w", err)
	}
	return ids, nil
}

// ErrStale is returned by a compare-and-set whose expectation no longer holds.
var ErrStale = errors.New("stale: the build or step changed underneath")

// TakenBuild is a build taken to run: its lease, its fence as the take
// bumped it, whether it was pending (the take started it), whether someone
// had asked to abort it, and its row.
type TakenBuild struct {
	Lease   Lease
	Fence   int64
	Fresh   bool
	Aborted bool
	Build   Build
}

// TakeBuilds takes, in one transaction, the leases of the builds for holder
// (skipping those another holder has unexpired) and, of the unfinished ones
// among them, bumps their fences (the caller now owns running them, and
// anyone holding an old fence is stale) and starts the pending ones, each
// with the started event. Builds started by many triggers at once start
// together.
func (s *Store) TakeBuilds(ctx context.Context, ids []int64, holder string, ttl time.Duration, started Event) ([]TakenBuild, error) {
	ids = slices.Clone(ids)
	slices.Sort(ids) // rows are locked in one order, whoever takes them
	var out []TakenBuild
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		out = nil
		leases, err := txRows(ctx, tx, func(r pgx.CollectableRow) (Lease, error) {
			l := Lease{Holder: holder}
			err := r.Scan(&l.Name, &l.Fence)
			return l, err
		}, `
				INSERT INTO leases (name, holder, fence, expires_at)
				SELECT 'build/' || id, $2, 1, now() + $3 * INTERVAL '1 millisecond' FROM unnest($1::BIGINT[]) AS id
				ON CONFLICT (name) DO UPDATE SET
					fence = CASE WHEN leases.holder = excluded.holder THEN leases.fence ELSE leases.fence + 1 END,
					holder = excluded.holder,
					expires_at = excluded.expires_at
				WHERE leases.holder = excluded.holder OR leases.expires_at < now()
				RETURNING name, fence`, ids, holder, ttl.Milliseconds())
		if err != nil || len(leases) == 0 {
			return err
		}
		held := map[int64]Lease{}
		var mine []int64
		for _, l := range leases {
			id, err := strconv.ParseInt(strings.TrimPrefix(l.Name, "build/"), 10, 64)
			if err != nil {
				return fmt.Errorf("lease %s: %w", l.Name, err)
			}
			held[id] = l
			mine = append(mine, id)
		}
		taken, err := s.takeBuilds(ctx, tx, mine, started)
		if err != nil {
			return err
		}
		for _, t := range taken {
			t.Lease = held[t.Build.ID]
			delete(held, t.Build.ID)
			out = append(out, t)
		}
		// The rest finished since they were listed: their leases go.
		var done []string
		for _, l := range held {
			done = append(done, l.Name)
		}
		if len(done) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM leases WHERE name = ANY($1) AND holder = $2`, done, holder); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("take builds: %w", err)
	}
	return out, nil
}

// takeBuilds bumps the fences of the unfinished builds among ids, starts the
// pending ones with the started event, and reads them.
func (s *Store) takeBuilds(ctx context.Context, tx pgx.Tx, ids []int64, started Event) ([]TakenBuild, error) {
	type bumped struct {
		id, fence      int64
		fresh, aborted bool
	}
	rows, err := txRows(ctx, tx, func(r pgx.CollectableRow) (bumped, error) {
		var b bumped
		err := r.Scan(&b.id, &b.fence, &b.fresh, &b.aborted)
		return b, err
	}, `
			WITH old AS (SELECT id, status FROM builds WHERE id = ANY($1) AND status IN ('pending', 'started'))
			UPDATE builds SET fence = fence + 1,
				status = CASE WHEN old.status = 'pending' THEN 'started' ELSE builds.status END,
				start_time = CASE WHEN old.status = 'pending' THEN now() ELSE builds.start_time END
			FROM old WHERE builds.id = old.id RETURNING builds.id, builds.fence, old.status = 'pending', builds.aborted`, ids)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	var fresh, all []int64
	byID := map[int64]bumped{}
	for _, b := range rows {
		all = append(all, b.id)
		byID[b.id] = b
		if b.fresh {
			fresh = append(fresh, b.id)
		}
	}
	if len(fresh) > 0 && started.Type != "" {
		// One event each, the same for all: the builds' next sequence numbers.
		if _, err := tx.Exec(ctx, `
			WITH next AS (UPDATE builds SET event_seq = event_seq + 1 WHERE id = ANY($1) RETURNING id, event_seq)
			INSERT INTO build_events (build_id, seq, event_type, version, payload)
			SELECT next.id, next.event_seq, $2, $3, $4::JSONB FROM next`, fresh, started.Type, started.Version, string(started.Payload)); err != nil {
			return nil, err
		}
	}
	builds, err := txRows(ctx, tx, func(r pgx.CollectableRow) (Build, error) { return s.scanBuild(r) },
		`SELECT `+buildColumns+buildFrom+` WHERE b.id = ANY($1) ORDER BY b.id`, all)
	if err != nil {
		return nil, err
	}
	out := make([]TakenBuild, 0, len(builds))
	for _, b := range builds {
		bb := byID[b.ID]
		out = append(out, TakenBuild{Fence: bb.fence, Fresh: bb.fresh, Aborted: bb.aborted, Build: b})
	}
	return out, nil
}

// RequestAbort marks a build to be aborted; the engine running it finishes the job.
func (s *Store) RequestAbort(ctx context.Context, id int64) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE builds SET aborted = true WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("abort build %d: %w", id, err)
	}
	return nil
}

// SetBuildComment sets a build's comment (PUT /api/v1/builds/B/comment).
func (s *Store) SetBuildComment(ctx context.Context, id int64, comment string) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE builds SET comment = $2 WHERE id = $1`, id, comment)
		if err == nil && tag.RowsAffected() == 0 {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("comment on build %d: %w", id, err)
	}
	return nil
}

// AbortedBuilds returns those of the builds that someone asked to abort and
// that have not finished.
func (s *Store) AbortedBuilds(ctx context.Context, ids []int64) ([]int64, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT id FROM builds WHERE id = ANY($1) AND aborted AND status IN ('pending', 'started')`, ids)
	}, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("read aborted builds: %w", err)
	}
	return out, nil
}

// AbortRequested tells whether someone asked to abort the build.
func (s *Store) AbortRequested(ctx context.Context, id int64) (bool, error) {
	var aborted bool
	err := s.row(ctx, `SELECT aborted FROM builds WHERE id = $1`, id).Scan(&aborted)
	return aborted, err
}

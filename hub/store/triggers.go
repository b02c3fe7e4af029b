package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// triggerAsk is one build asked of a job (batches gathers the asks of one
// job): who, how, its plan (nil: the scheduler gives it inputs) and its
// trace; id is the build created.
type triggerAsk struct {
	createdBy    string
	manual       bool
	plan         *string // sealed
	span, parent string
	id           int64
}

// CreateJobBuild creates the next pending build of a job, named by the job's build
// counter. Concurrent callers get distinct, gapless names, in the order they
// asked (builds asked at once are created together). Without a plan the
// build waits for the scheduler to give it inputs (and the job is asked to be
// scheduled); with one it runs as it is.
//
// traceparent, when a valid W3C one, makes the build's trace a child of it.
func (s *Store) CreateJobBuild(ctx context.Context, jobID int64, createdBy string, manual bool, plan json.RawMessage, traceparent string) (Build, error) {
	a := triggerAsk{createdBy: createdBy, manual: manual}
	a.span, a.parent = traceOf(traceparent)
	if plan != nil {
		p := s.keys.sealText(plan)
		a.plan = &p
	}
	create := func(ctx context.Context, asks []*triggerAsk) error { return s.createBuilds(ctx, jobID, asks) }
	if err := s.triggers.do(ctx, s, jobID, &a, create); err != nil {
		return Build{}, fmt.Errorf("create build of job %d: %w", jobID, err)
	}
	return s.Build(ctx, a.id)
}

// createBuilds creates a job's asked builds in one transaction, named in
// the order asked, and gives each ask its build's id.
func (s *Store) createBuilds(ctx context.Context, jobID int64, asks []*triggerAsk) error {
	ids := make([]int64, len(asks))
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		teamID, pipelineID, first, err := nextBuilds(ctx, tx, jobID, len(asks))
		if err != nil {
			return err
		}
		last := first + int64(len(asks)) - 1
		names := make([]string, len(asks))
		by, spans, parents := make([]string, len(asks)), make([]string, len(asks)), make([]string, len(asks))
		manual := make([]bool, len(asks))
		plans := make([]*string, len(asks))
		schedule := false
		for i, a := range asks {
			names[i] = strconv.FormatInt(first+int64(i), 10)
			by[i], manual[i], plans[i], spans[i], parents[i] = a.createdBy, a.manual, a.plan, a.span, a.parent
			schedule = schedule || a.plan == nil
		}
		rows, err := tx.Query(ctx, `
			INSERT INTO builds (name, team_id, pipeline_id, job_id, created_by, manually_triggered, plan, scheduled, trace_span, trace_parent)
			SELECT a.name, $1, $2, $3, a.created_by, a.manual, a.plan::JSONB, a.plan IS NOT NULL, a.span, a.parent
			FROM unnest($4::TEXT[], $5::TEXT[], $6::BOOL[], $7::TEXT[], $8::TEXT[], $9::TEXT[])
				AS a (name, created_by, manual, plan, span, parent)
			RETURNING id, name`, teamID, pipelineID, jobID, names, by, manual, plans, spans, parents)
		if err != nil {
			return err
		}
		var id int64
		var name string
		if _, err := pgx.ForEachRow(rows, []any{&id, &name}, func() error {
			n, err := strconv.ParseInt(name, 10, 64)
			if err != nil || n < first || n > last {
				return fmt.Errorf("created build %q is not one of %d to %d", name, first, last)
			}
			ids[n-first] = id
			return nil
		}); err != nil {
			return err
		}
		if !schedule {
			return nil
		}
		return requestSchedule(ctx, tx, `SELECT $1::BIGINT`, jobID)
	})
	if err != nil {
		return err
	}
	for i, a := range asks {
		a.id = ids[i]
	}
	return nil
}

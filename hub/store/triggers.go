package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/jackc/pgx/v5"
)

// triggers gathers the builds asked of one job while an earlier transaction
// on the job's row runs (lockJob): the next transaction creates all of them
// at once, with one write of the job's build counter, one insert and one
// scheduling request, instead of a transaction each queued behind the other.
type triggers struct {
	mu   sync.Mutex
	open map[int64]*triggerBatch // by job: the batch that still takes builds
}

type triggerBatch struct {
	asks []triggerAsk
	done chan struct{} // closed when ids or err are set
	ids  []int64
	err  error
}

// triggerAsk is one build asked for: who, how, its plan (nil: the scheduler
// gives it inputs) and its trace.
type triggerAsk struct {
	createdBy    string
	manual       bool
	plan         *string // sealed
	span, parent string
}

// maxTriggerBatch bounds the builds one transaction creates: a flood of
// triggers makes several batches, each led by its first caller.
const maxTriggerBatch = 500

// join adds an ask to the job's open batch, or opens one (when there is none,
// or it is full); lead says that the caller opened it and creates its builds.
func (t *triggers) join(jobID int64, a triggerAsk) (b *triggerBatch, i int, lead bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open == nil {
		t.open = map[int64]*triggerBatch{}
	}
	b, ok := t.open[jobID]
	if !ok || len(b.asks) >= maxTriggerBatch {
		b, ok = &triggerBatch{done: make(chan struct{})}, false
		t.open[jobID] = b
	}
	b.asks = append(b.asks, a)
	return b, len(b.asks) - 1, !ok
}

// close makes the batch take no more asks: the next ones open another.
func (t *triggers) close(jobID int64, b *triggerBatch) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open[jobID] == b {
		delete(t.open, jobID)
	}
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
	b, i, lead := s.triggers.join(jobID, a)
	if lead {
		// The builds of the callers that joined are theirs: create them
		// even if this caller goes away.
		unlock := s.lockJob(jobID)
		s.triggers.close(jobID, b)
		b.ids, b.err = s.createBuilds(context.WithoutCancel(ctx), jobID, b.asks)
		unlock()
		close(b.done)
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		return Build{}, ctx.Err()
	}
	if b.err != nil {
		return Build{}, fmt.Errorf("create build of job %d: %w", jobID, b.err)
	}
	return s.Build(ctx, b.ids[i])
}

// createBuilds creates a job's asked builds in one transaction and returns
// their ids, in the order asked.
func (s *Store) createBuilds(ctx context.Context, jobID int64, asks []triggerAsk) ([]int64, error) {
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
	return ids, err
}

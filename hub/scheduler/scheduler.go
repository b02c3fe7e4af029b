package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-ci/switchyard/algorithm"
	"github.com/switchyard-ci/switchyard/hub/notify"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/metrics"
	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/telemetry"
)

// Scheduler schedules the jobs of every pipeline. Create it with New and call Run.
type Scheduler struct {
	store   *store.Store
	log     *slog.Logger
	holder  string        // this hub's name in pipeline leases
	ttl     time.Duration // how long a pipeline lease lasts unrenewed
	started func(buildID int64)
	workers int

	wake *notify.Signal
}

// Options tune a Scheduler; zero values take the defaults.
type Options struct {
	Holder   string              // this hub's name in leases
	LeaseTTL time.Duration       // default 15 s
	Workers  int                 // jobs resolved at once, default 8
	Started  func(buildID int64) // called for every build let run (the engine's Wake)
	Wake     *notify.Signal      // raised when jobs asked to be scheduled (nil: Wake and the poll only)
}

func New(st *store.Store, log *slog.Logger, o Options) *Scheduler {
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 15 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Started == nil {
		o.Started = func(int64) {}
	}
	if o.Wake == nil {
		o.Wake = notify.NewSignal()
	}
	return &Scheduler{store: st, log: log, holder: o.Holder, ttl: o.LeaseTTL, started: o.Started, workers: o.Workers, wake: o.Wake}
}

// Wake makes the scheduler look for requests now rather than at its next poll.
func (s *Scheduler) Wake() { s.wake.Raise() }

// poll is how often the scheduler looks for requests made through other hubs.
const poll = time.Second

// Run handles requests until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("schedule", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake.C():
		case <-t.C:
		}
	}
}

// Tick handles the requests there are now: the jobs of each pipeline whose
// lease this hub holds (or takes), several jobs at once.
func (s *Scheduler) Tick(ctx context.Context) error {
	jobs, err := s.store.RequestedJobs(ctx, 10000)
	if err != nil {
		return err
	}
	metrics.SchedulerQueue.Set(float64(len(jobs)))
	if len(jobs) == 0 {
		return nil
	}
	owned := map[int64]bool{}
	work := make(chan int64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				if _, err := s.ScheduleJob(ctx, id); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, j := range jobs {
		mine, seen := owned[j.PipelineID]
		if !seen {
			_, mine, err = s.store.AcquireLease(ctx, "scheduler/pipeline/"+strconv.FormatInt(j.PipelineID, 10), s.holder, s.ttl)
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				break
			}
			owned[j.PipelineID] = mine
		}
		if mine {
			work <- j.ID
		}
	}
	close(work)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return errors.Join(errs...)
}

// ScheduleJob handles a job's pending request: resolve its inputs, record the
// answer, create and start builds.
func (s *Scheduler) ScheduleJob(ctx context.Context, jobID int64) (_ store.Scheduled, err error) {
	start := time.Now()
	metrics.JobsScheduling.Inc()
	defer metrics.JobsScheduling.Dec()
	ctx, span := telemetry.Tracer().Start(ctx, "schedule-job", trace.WithAttributes(attribute.Int64("switchyard.job_id", jobID)))
	defer func() { telemetry.Fail(span, err); span.End() }()
	j, err := s.store.JobForScheduling(ctx, jobID)
	if err != nil {
		return store.Scheduled{}, err
	}
	span.SetAttributes(attribute.String("switchyard.pipeline", j.PipelineName), attribute.String("switchyard.job", j.Name))
	defer func() {
		metrics.JobsScheduled.Inc()
		metrics.JobsSchedulingTime.WithLabelValues(j.PipelineName, j.Name, strconv.FormatInt(jobID, 10)).Observe(float64(time.Since(start).Milliseconds()))
	}()
	inputs := make([]algorithm.Input, len(j.Inputs))
	for i, in := range j.Inputs {
		inputs[i] = algorithm.Input{Name: in.Name, ResourceID: in.ResourceID, Passed: in.Passed, Every: in.Every, Pinned: in.Pinned}
	}
	db := s.store.VersionsDB()
	resolving := time.Now()
	rctx, rspan := telemetry.Tracer().Start(ctx, "resolve inputs")
	res, err := algorithm.Resolve(rctx, db, jobID, inputs)
	telemetry.Fail(rspan, err)
	rspan.End()
	if err != nil {
		return store.Scheduled{}, fmt.Errorf("resolve inputs of job %s: %w", j.Name, err)
	}
	r := store.Resolution{JobID: jobID, Seq: j.Seq, HasNext: res.HasNext(), Plan: fillPlan, Errors: map[string]store.InputError{}}
	for _, in := range j.Inputs {
		if reason, failed := res.Errors[in.Name]; failed {
			r.Errors[in.Name] = s.explain(ctx, j, in, reason)
			continue
		}
		c := res.Candidates[in.Name]
		passed := make([]int64, len(c.PassedBuilds))
		for i, b := range c.PassedBuilds {
			passed[i] = int64(b)
		}
		r.Inputs = append(r.Inputs, store.ResolvedInput{
			Name: in.Name, ResourceID: in.ResourceID, VersionID: int64(c.Version), Trigger: in.Trigger,
			FirstOccurrence: c.FirstOccurrence, PassedBuilds: passed,
		})
	}
	out, err := s.store.SaveResolution(ctx, r)
	if err != nil {
		return out, err
	}
	traceResolution(ctx, out.Traces, resolving, time.Now())
	for _, id := range out.Started {
		s.started(id)
	}
	if out.Again {
		s.Wake() // every's next version, or the pending builds after the ones read, are waiting
	}
	return out, nil
}

// fillPlan puts the chosen versions into a job's compiled plan.
func fillPlan(raw json.RawMessage, versions map[string]map[string]string) (json.RawMessage, error) {
	var plan pipeline.Plan
	if err := json.Unmarshal(raw, &plan); err != nil || plan.ID == "" {
		return nil, fmt.Errorf("the job has no stored plan: set its pipeline again")
	}
	plan.SetVersions(versions)
	return json.Marshal(plan)
}

// traceResolution puts the input resolution that started builds into each
// build's trace, as a child of the build's span: the scheduler's own span
// of the job is a trace of its own, since one resolution may start several
// builds.
func traceResolution(ctx context.Context, traces map[int64]telemetry.Stored, start, end time.Time) {
	if !telemetry.Enabled() {
		return
	}
	link := trace.LinkFromContext(ctx)
	for _, t := range traces {
		_, span := telemetry.Tracer().Start(t.Context(ctx), "resolve inputs", trace.WithTimestamp(start), trace.WithLinks(link))
		span.End(trace.WithTimestamp(end))
	}
}

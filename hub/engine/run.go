package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/notify"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/spoke/wire"
)

// errAborted ends a plan whose build was aborted.
var errAborted = errors.New("build aborted")

// run is one build being executed by this hub.
type run struct {
	e     *Engine
	build store.Build
	fence int64
	plan  pipeline.Plan

	aborted atomic.Bool
	life    context.Context // ends only when the hub stops; hooks that run after an abort use it

	mu          sync.Mutex
	versionFrom map[string]map[string]string // put plan id -> the version it created
	outputs     []store.RecordedOutput       // versions the build's puts created, in order
	artifacts   map[string]wire.ArtifactRef  // build artifacts produced so far
}

func (r *run) rootID() string { return r.plan.ID }

// execute runs the plan and returns the build's final status. err is a build
// error (the status is then errored).
func (r *run) execute(ctx context.Context) (api.BuildStatus, error) {
	if err := json.Unmarshal(r.build.Plan, &r.plan); err != nil || r.plan.ID == "" {
		return api.BuildErrored, fmt.Errorf("build %d has no plan it can run", r.build.ID)
	}
	r.artifacts = map[string]wire.ArtifactRef{}
	ok, err := r.step(ctx, &r.plan)
	switch {
	case r.aborted.Load():
		if err := r.e.store.AbortSteps(context.WithoutCancel(ctx), r.build.ID); err != nil {
			return api.BuildAborted, fmt.Errorf("tell the spokes to stop the steps of aborted build %d: %w", r.build.ID, err)
		}
		return api.BuildAborted, nil
	case errors.Is(err, errAborted) && ctx.Err() != nil:
		return "", ctx.Err()
	case err != nil:
		return api.BuildErrored, err
	case ok:
		return api.BuildSucceeded, nil
	}
	return api.BuildFailed, nil
}

// watchAbort cancels the build when someone asks to abort it: at once when the
// request reaches this hub, within a few seconds when it reaches another replica.
func (r *run) watchAbort(ctx context.Context, cancel context.CancelFunc) {
	for ctx.Err() == nil {
		if aborted, err := r.e.store.AbortRequested(ctx, r.build.ID); err == nil && aborted {
			r.aborted.Store(true)
			cancel()
			return
		}
		r.e.notify.Wait(ctx, abortKey(r.build.ID), 3*time.Second)
	}
}

// afterAbort marks the context of hooks that run because the build was aborted
// (on_abort, ensure): inside them the abort no longer stops steps.
type afterAbort struct{}

// hookContext is the context for a hook that runs after an abort.
func (r *run) hookContext() context.Context {
	return context.WithValue(r.life, afterAbort{}, true)
}

func (r *run) stopped(ctx context.Context) bool {
	if ctx.Value(afterAbort{}) != nil {
		return ctx.Err() != nil
	}
	return r.aborted.Load() || ctx.Err() != nil
}

// step runs one node: true when it succeeded, false when it failed, an error
// when it errored or the build was aborted.
func (r *run) step(ctx context.Context, p *pipeline.Plan) (bool, error) {
	if r.stopped(ctx) {
		return false, errAborted
	}
	switch {
	case p.Do != nil:
		for i := range *p.Do {
			if ok, err := r.step(ctx, &(*p.Do)[i]); err != nil || !ok {
				return ok, err
			}
		}
		return true, nil
	case p.InParallel != nil:
		return r.inParallel(ctx, p.InParallel)
	case p.Try != nil:
		_, err := r.step(ctx, &p.Try.Step)
		if errors.Is(err, errAborted) {
			return false, err
		}
		return true, nil
	case p.Timeout != nil:
		d, err := time.ParseDuration(p.Timeout.Duration)
		if err != nil {
			return false, fmt.Errorf("timeout %q: %w", p.Timeout.Duration, err)
		}
		tctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		ok, err := r.step(tctx, &p.Timeout.Step)
		if errors.Is(tctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			r.errorEvent(ctx, p.ID, fmt.Sprintf("timeout exceeded (%s)", p.Timeout.Duration))
			return false, nil
		}
		return ok, err
	case p.Retry != nil:
		var ok bool
		var err error
		for i := range *p.Retry {
			if ok, err = r.step(ctx, &(*p.Retry)[i]); (ok && err == nil) || errors.Is(err, errAborted) {
				return ok, err
			}
		}
		return ok, err
	case p.OnSuccess != nil:
		ok, err := r.step(ctx, &p.OnSuccess.Step)
		if err != nil || !ok {
			return ok, err
		}
		return r.step(ctx, &p.OnSuccess.Next)
	case p.OnFailure != nil:
		ok, err := r.step(ctx, &p.OnFailure.Step)
		if err == nil && !ok {
			_, _ = r.step(ctx, &p.OnFailure.Next)
		}
		return ok, err
	case p.OnError != nil:
		ok, err := r.step(ctx, &p.OnError.Step)
		if err != nil && !errors.Is(err, errAborted) {
			_, _ = r.step(ctx, &p.OnError.Next)
		}
		return ok, err
	case p.OnAbort != nil:
		ok, err := r.step(ctx, &p.OnAbort.Step)
		if errors.Is(err, errAborted) && r.aborted.Load() {
			_, _ = r.step(r.hookContext(), &p.OnAbort.Next)
		}
		return ok, err
	case p.Ensure != nil:
		ok, err := r.step(ctx, &p.Ensure.Step)
		if errors.Is(err, errAborted) {
			if r.aborted.Load() {
				_, _ = r.step(r.hookContext(), &p.Ensure.Next)
			}
			return ok, err
		}
		nok, nerr := r.step(ctx, &p.Ensure.Next)
		if err == nil {
			err = nerr
		}
		return ok && nok, err
	case p.Get != nil, p.Put != nil, p.Task != nil:
		return cancelled(ctx)(r.dispatch(ctx, p))
	case p.Check != nil:
		return cancelled(ctx)(r.check(ctx, p))
	case p.ArtifactInput != nil:
		return r.artifactInput(ctx, p.ArtifactInput)
	case p.ArtifactOutput != nil:
		r.mu.Lock()
		_, ok := r.artifacts[p.ArtifactOutput.Name]
		r.mu.Unlock()
		if !ok {
			return false, fmt.Errorf("artifact_output %s: the build has no artifact of that name", p.ArtifactOutput.Name)
		}
		return true, nil // every build artifact is kept: fly downloads it by the build's artifacts list
	case p.SetPipeline != nil:
		return false, fmt.Errorf("set_pipeline steps are not supported by this hub yet")
	case p.LoadVar != nil:
		return false, fmt.Errorf("load_var steps are not supported by this hub yet")
	case p.Across != nil:
		return false, fmt.Errorf("across steps are not supported by this hub yet")
	}
	return false, fmt.Errorf("plan node %s has no step this hub can run", p.ID)
}

// cancelled reports an error that happened while ctx was being cancelled (a
// timeout, a fail_fast sibling, an abort) as the cancellation it is, not as a
// build error.
func cancelled(ctx context.Context) func(bool, error) (bool, error) {
	return func(ok bool, err error) (bool, error) {
		if err != nil && ctx.Err() != nil {
			return false, errAborted
		}
		return ok, err
	}
}

func (r *run) inParallel(ctx context.Context, ip *pipeline.InParallelPlan) (bool, error) {
	pctx, cancel := context.WithCancel(ctx) // fail_fast cancels the siblings, not the build
	defer cancel()
	limit := ip.Limit
	if limit <= 0 {
		limit = len(ip.Steps)
	}
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	var mu sync.Mutex
	allOK := true
	var firstErr error
	for i := range ip.Steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-pctx.Done():
				return
			}
			defer func() { <-sem }()
			ok, err := r.step(pctx, &ip.Steps[i])
			mu.Lock()
			defer mu.Unlock()
			if !ok || err != nil {
				allOK = false
				if err != nil && firstErr == nil && !errors.Is(err, errAborted) {
					firstErr = err
				}
				if ip.FailFast {
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	if r.stopped(ctx) {
		return false, errAborted
	}
	return allOK && firstErr == nil, firstErr
}

func statusEvent(status api.BuildStatus) store.Event {
	payload, _ := json.Marshal(api.StatusEvent{Status: status, Time: time.Now().Unix()})
	return store.Event{Type: api.EventStatus, Version: api.EventVersions[api.EventStatus], Payload: payload}
}

func (r *run) errorEvent(ctx context.Context, planID, msg string) {
	payload, _ := json.Marshal(api.ErrorEvent{Message: msg, Origin: api.Origin{ID: planID}, Time: time.Now().Unix()})
	r.appendEvent(ctx, store.Event{Type: api.EventError, Version: api.EventVersions[api.EventError], Payload: payload})
}

// appendEvent adds an event to the build's log and wakes its watchers. An
// event that cannot be stored (the database is away, the build's context
// ended) is logged with why: the build goes on, its log misses the line.
func (r *run) appendEvent(ctx context.Context, ev store.Event) {
	if err := r.e.store.AppendEvent(ctx, r.build.ID, ev); err != nil {
		r.e.log.Error("build event lost", slog.Int64("build", r.build.ID), slog.String("event", ev.Type), slog.String("error", err.Error()))
		return
	}
	r.e.notify.Notify(notify.EventsKey(r.build.ID))
}

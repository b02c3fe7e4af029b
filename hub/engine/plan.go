package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/switchyard-ci/switchyard/pipeline"
)

// The control flow of a build's plan, as Concourse runs it: do, try,
// in_parallel (limit, fail_fast), timeout, attempts, the hooks, and abort
// at any point. Leaves go through r.leaf and errors through r.say, so these
// semantics are tested with neither a database nor a spoke (plan_test.go).

// errAborted ends a plan whose build was aborted.
var errAborted = errors.New("build aborted")

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
			r.say(ctx, p.ID, fmt.Sprintf("timeout exceeded (%s)", p.Timeout.Duration))
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
	}
	return cancelled(ctx)(r.leaf(ctx, p))
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

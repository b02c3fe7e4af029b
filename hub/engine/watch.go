package engine

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/switchyard-ci/switchyard/hub/store"
)

// The watcher: what other replicas change for the builds this hub runs (a
// step's result that reached another replica's gateway, an abort asked of
// another replica) is found by one poll for all of them, not one per build
// and step. A change in this process wakes its waiters at once
// (notify); the poll only bounds how late a change elsewhere is seen.

// watchEvery is how often the watcher polls the store.
const watchEvery = time.Second

// fallbackPoll is how often a waiter reads its own row anyway, should a
// wake-up be lost: a safety net, not the way changes are seen.
const fallbackPoll = 15 * time.Second

// watcher holds the steps waited on (step id -> build id), the ends of
// those steps that this process's gateway stored (handed to their waiters
// so that they need not read them back), and the builds whose abort is
// watched (build id -> watchers).
type watcher struct {
	mu     sync.Mutex
	steps  map[int64]int64
	ended  map[int64]stepEnd
	builds map[int64]int
}

// stepEnd is a step's end as the gateway stored it.
type stepEnd struct {
	state  store.StepState
	result json.RawMessage
}

func newWatcher() *watcher {
	return &watcher{steps: map[int64]int64{}, ended: map[int64]stepEnd{}, builds: map[int64]int{}}
}

// step registers a wait on a step's end until the returned func is called.
func (w *watcher) step(stepID, buildID int64) (done func()) {
	w.mu.Lock()
	w.steps[stepID] = buildID
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		delete(w.steps, stepID)
		delete(w.ended, stepID)
		w.mu.Unlock()
	}
}

// end keeps a step's end for its waiter, if the step is waited on here.
func (w *watcher) end(stepID int64, e stepEnd) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, waited := w.steps[stepID]; waited {
		w.ended[stepID] = e
	}
}

// takeEnd returns the end kept for a step, if there is one.
func (w *watcher) takeEnd(stepID int64) (stepEnd, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.ended[stepID]
	delete(w.ended, stepID)
	return e, ok
}

// build registers a watch on a build's abort until the returned func is called.
func (w *watcher) build(buildID int64) (done func()) {
	w.mu.Lock()
	w.builds[buildID]++
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		if w.builds[buildID]--; w.builds[buildID] <= 0 {
			delete(w.builds, buildID)
		}
		w.mu.Unlock()
	}
}

func (w *watcher) ids() (steps, builds []int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id := range w.steps {
		steps = append(steps, id)
	}
	for id := range w.builds {
		builds = append(builds, id)
	}
	return steps, builds
}

// watch polls until ctx ends, waking the waiters of steps that ended and of
// builds someone asked to abort.
func (e *Engine) watch(ctx context.Context) {
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		steps, builds := e.watcher.ids()
		if len(steps) > 0 {
			ended, err := e.store.EndedSteps(ctx, steps)
			if err != nil && ctx.Err() == nil {
				e.log.Warn("poll the steps waited on", slog.String("error", err.Error()))
			}
			e.watcher.mu.Lock()
			var wake []int64
			for _, id := range ended {
				if b, ok := e.watcher.steps[id]; ok {
					wake = append(wake, b)
				}
			}
			e.watcher.mu.Unlock()
			for _, b := range wake {
				e.notify.Notify(buildKey(b))
			}
		}
		if len(builds) > 0 {
			aborted, err := e.store.AbortedBuilds(ctx, builds)
			if err != nil && ctx.Err() == nil {
				e.log.Warn("poll the builds for aborts", slog.String("error", err.Error()))
			}
			for _, id := range aborted {
				e.notify.Notify(abortKey(id))
			}
		}
	}
}

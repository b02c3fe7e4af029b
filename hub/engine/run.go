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
	"github.com/switchyard-ci/switchyard/hub/creds"
	"github.com/switchyard-ci/switchyard/hub/notify"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/wire"
)

// run is one build being executed by this hub.
type run struct {
	e     *Engine
	build store.Build
	fence int64
	fresh bool // the build was pending when this run took it: it has no steps yet
	plan  pipeline.Plan

	aborted atomic.Bool
	life    context.Context // ends only when the hub stops; hooks that run after an abort use it

	// leaf runs a step that is not control flow (runLeaf), say tells the
	// build's events of an error (errorEvent): the seams that plan_test.go
	// runs the plan's control flow through.
	leaf func(ctx context.Context, p *pipeline.Plan) (bool, error)
	say  func(ctx context.Context, planID, msg string)

	mu          sync.Mutex
	resolver    *creds.Resolver              // the build's vars, made once, by vars
	versionFrom map[string]map[string]string // put plan id -> the version it created
	outputs     []store.RecordedOutput       // versions the build's puts created, in order
	artifacts   map[string]wire.ArtifactRef  // build artifacts produced so far
	// task plan id -> the version of its image_resource, chosen once
	imageVersions map[string]map[string]string
	// custom type name -> its version for the build, and the artifact of its image
	typeVersions  map[string]map[string]string
	typeArtifacts map[string]string
	files         map[string][]byte           // artifact digest/path -> a file the hub read (readFile)
	spokeOf       sync.Map                    // step id -> the name of the spoke this run placed it on
	cacheEpochs   map[string]map[string]int64 // the job's task cache epochs, read once
}

func (r *run) rootID() string { return r.plan.ID }

// execute runs the plan and returns the build's final status. err is a build
// error (the status is then errored).
func (r *run) execute(ctx context.Context) (api.BuildStatus, error) {
	if err := json.Unmarshal(r.build.Plan, &r.plan); err != nil || r.plan.ID == "" {
		return api.BuildErrored, fmt.Errorf("build %d has no plan it can run", r.build.ID)
	}
	if r.fresh {
		r.began()
	}
	defer r.running()()
	r.artifacts = map[string]wire.ArtifactRef{}
	r.imageVersions = map[string]map[string]string{}
	r.typeVersions, r.typeArtifacts = map[string]map[string]string{}, map[string]string{}
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
// request reaches this hub, within a few seconds when it reaches another
// replica. taken says whether the build's take found it asked already (an
// ask after the take is seen by the notification, or by the watcher's poll).
func (r *run) watchAbort(ctx context.Context, cancel context.CancelFunc, taken bool) {
	defer r.e.watcher.build(r.build.ID)()
	aborted := taken
	for ctx.Err() == nil {
		asked := r.e.notify.Watch(abortKey(r.build.ID))
		if aborted {
			r.aborted.Store(true)
			cancel()
			return
		}
		notify.Await(ctx, asked, fallbackPoll)
		var err error
		if aborted, err = r.e.store.AbortRequested(ctx, r.build.ID); err != nil {
			aborted = false
		}
	}
}

// runLeaf runs a step that is not control flow: a get, put, task or check
// on a spoke, or a one-off build's artifact.
func (r *run) runLeaf(ctx context.Context, p *pipeline.Plan) (bool, error) {
	switch {
	case p.Get != nil, p.Put != nil, p.Task != nil:
		return r.dispatch(ctx, p)
	case p.Check != nil:
		return r.check(ctx, p)
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
		return r.setPipeline(ctx, p)
	case p.LoadVar != nil:
		return r.loadVar(ctx, p)
	case p.Across != nil:
		return r.across(ctx, p)
	}
	return false, fmt.Errorf("plan node %s has no step this hub can run", p.ID)
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
	if err := r.e.store.AppendEvents(ctx, r.build.ID, ev); err != nil {
		r.e.log.ErrorContext(ctx, "build event lost", slog.String("event", ev.Type), slog.String("error", err.Error()))
		return
	}
	r.e.notify.Notify(notify.EventsKey(r.build.ID))
}

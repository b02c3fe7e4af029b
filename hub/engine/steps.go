package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/creds"
	"github.com/switchyard-ci/switchyard/hub/notify"
	"github.com/switchyard-ci/switchyard/hub/steptrace"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/placement"
	"github.com/switchyard-ci/switchyard/wire"
)

// The step lifecycle: a step's runs on spokes, from creation to result,
// with their initialize and selected-worker events.

// runStep makes sure the step exists (creating it on a spoke if this is its first
// run) and waits for its result. A run the spoke lost (evicted, gone with its
// node, or its spoke stopped answering) is followed by a new one, placed
// afresh, up to wire.MaxRuns, when wire.RerunsWhenLost allows (not a put that
// did not say running it twice is safe). If ctx ends first the step is
// aborted.
func (r *run) runStep(ctx context.Context, planID string, attempt int, kind wire.StepKind, req wire.StepRequest) (wire.Result, error) {
	resolved, err := r.resolve(ctx, req)
	if err != nil {
		return wire.Result{}, err
	}
	lost := ""
	for n := 1; ; n++ {
		res, err := r.runOnce(ctx, store.StepKey{BuildID: r.build.ID, PlanID: planID, Attempt: attempt, Run: n}, kind, req, resolved, lost)
		if err != nil || !res.Lost || n >= wire.MaxRuns || !wire.RerunsWhenLost(kind, req) {
			return res, err
		}
		lost = res.Error
	}
}

// runOnce runs one run of a step; lost says why the run before it was lost.
func (r *run) runOnce(ctx context.Context, key store.StepKey, kind wire.StepKind, req wire.StepRequest, resolved creds.Resolved, lost string) (wire.Result, error) {
	changed := r.e.notify.Watch(buildKey(r.build.ID)) // before the step is read: its result may come at once
	// A build this run started has no steps but those it creates; one taken
	// over from another hub process may have this step already.
	st, err := store.Step{}, store.ErrNotFound
	if !r.fresh {
		st, err = r.e.store.StepByKey(ctx, key)
	}
	if errors.Is(err, store.ErrNotFound) {
		span := steptrace.Begin(ctx, &req)
		resolved.Request.TraceParent, resolved.Request.SpanParent = req.TraceParent, req.SpanParent // the gateway hands out the resolved request
		st, err = r.createStep(span.Context(ctx), key, kind, req, resolved, lost)
	}
	if err != nil {
		return wire.Result{}, err
	}
	defer r.e.watcher.step(st.ID, r.build.ID)()
	defer r.e.fair.wake() // its room is free for the steps that wait
	for {
		switch st.State {
		case store.StepSucceeded, store.StepFailed, store.StepErrored:
			var res wire.Result
			if err := json.Unmarshal(st.Result, &res); err != nil {
				return res, fmt.Errorf("step %s: unreadable result: %w", key.PlanID, err)
			}
			return res, nil
		case store.StepAborted:
			return wire.Result{}, errAborted
		}
		if r.stopped(ctx) {
			if err := r.e.store.AbortStep(context.WithoutCancel(ctx), st.ID); err != nil {
				r.e.log.ErrorContext(ctx, "abort step", slog.Int64("step_id", st.ID), slog.String("error", err.Error()))
			}
			r.e.notify.Notify(notify.SpokeKey(st.SpokeID))
			spoke, _ := r.spokeOf.Load(st.ID)
			name, _ := spoke.(string)
			steptrace.End(ctx, st, name, wire.Result{}, true)
			return wire.Result{}, errAborted
		}
		notify.Await(ctx, changed, fallbackPoll)
		changed = r.e.notify.Watch(buildKey(r.build.ID))
		if end, ok := r.e.watcher.takeEnd(st.ID); ok { // this process's gateway stored it
			st.State, st.Result = end.state, end.result
			continue
		}
		if st, err = r.e.store.Step(context.WithoutCancel(ctx), st.ID); err != nil {
			return wire.Result{}, err
		}
	}
}

// createStep places a new step on the build's spoke (choosing one for the first
// step) and records it with its initialize and selected-worker events.
func (r *run) createStep(ctx context.Context, key store.StepKey, kind wire.StepKind, req wire.StepRequest, resolved creds.Resolved, lost string) (store.Step, error) {
	return r.pickSpoke(ctx, key.PlanID, req, func(sp store.Spoke, d placement.Decision, ns store.NewStep) (store.Step, error) {
		return r.recordStep(ctx, key, kind, req, resolved, sp, d, ns, lost)
	})
}

// recordStep records a placed step with its initialize and selected-worker
// events, the placement's summary when there was a choice, and where it
// moved when its last run was lost.
func (r *run) recordStep(ctx context.Context, key store.StepKey, kind wire.StepKind, req wire.StepRequest, resolved creds.Resolved,
	sp store.Spoke, d placement.Decision, ns store.NewStep, lost string) (store.Step, error) {
	raw, err := json.Marshal(req)
	if err != nil {
		return store.Step{}, err
	}
	origin := api.Origin{ID: key.PlanID}
	now := time.Now().Unix()
	var events []store.Event
	switch kind {
	case wire.KindTask:
		payload, _ := json.Marshal(api.TaskEvent{Time: now, Origin: origin, Config: req.TaskEventConfig()})
		events = append(events, event(api.EventInitializeTask, payload))
	case wire.KindGet:
		payload, _ := json.Marshal(api.StepEvent{Origin: origin, Time: now})
		events = append(events, event(api.EventInitializeGet, payload))
	case wire.KindPut:
		payload, _ := json.Marshal(api.StepEvent{Origin: origin, Time: now})
		events = append(events, event(api.EventInitializePut, payload))
	case wire.KindCheck:
		payload, _ := json.Marshal(api.InitializeCheckEvent{Origin: origin, Time: now, Name: req.Name})
		events = append(events, event(api.EventInitializeChk, payload))
	}
	if kind != implicitCheck && kind != implicitRead {
		payload, _ := json.Marshal(api.SelectedWorkerEvent{Time: now, Origin: origin, SelectedWorker: sp.Name})
		events = append(events, event(api.EventSelectedWorker, payload))
		if lost != "" {
			payload, _ := json.Marshal(api.LogEvent{Time: now, Origin: api.Origin{ID: key.PlanID, Source: "stderr"},
				Payload: fmt.Sprintf("%s; step moved to spoke %s (run %d)\n", lost, sp.Name, key.Run)})
			events = append(events, event(api.EventLog, payload))
		}
		if len(d.Candidates) > 1 { // a choice was made: say why, in a line stock fly shows
			payload, _ := json.Marshal(api.LogEvent{Time: now, Origin: api.Origin{ID: key.PlanID, Source: "stderr"},
				Payload: fmt.Sprintf("placement: %s (fly placement -b %d explains)\n", d.Summary(), r.build.ID)})
			events = append(events, event(api.EventLog, payload))
		}
	}
	ns.Kind, ns.Request = kind, raw
	decision, _ := json.Marshal(d)
	ns.Placement = &store.PlacementDecision{PlanID: key.PlanID, StepName: req.Name, Spoke: d.Spoke, Decision: decision}
	st, err := r.e.store.EnsureStep(ctx, key, r.fence, ns, events...)
	if err != nil {
		return st, err
	}
	r.e.creds.Keep(st.ID, resolved) // the gateway of this process hands it out without a second lookup
	r.spokeOf.Store(st.ID, sp.Name)
	r.e.notify.Notify(notify.SpokeKey(sp.ID))
	r.e.notify.Notify(notify.EventsKey(r.build.ID))
	return st, nil
}

func event(typ string, payload []byte) store.Event {
	return store.Event{Type: typ, Version: api.EventVersions[typ], Payload: payload}
}

// runAndRead runs a plan node's step and reads its result as the plan does:
// a step error errors the build, a non-zero exit fails the step (ok false).
func (r *run) runAndRead(ctx context.Context, p *pipeline.Plan, kind wire.StepKind, req wire.StepRequest) (wire.Result, bool, error) {
	res, err := r.runStep(ctx, p.ID, attempt(p), kind, req)
	if err != nil {
		return res, false, err
	}
	if res.Error != "" {
		return res, false, stepError(res.Error)
	}
	return res, res.ExitStatus == 0, nil
}

// stepError is the error a step ended with: its own error event shows it
// already, so the build's end does not say it again.
type stepError string

func (e stepError) Error() string { return string(e) }

package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/metrics"
	"github.com/switchyard-ci/switchyard/placement"
	"github.com/switchyard-ci/switchyard/telemetry"
	"github.com/switchyard-ci/switchyard/wire"
)

// Placement: where each step goes, and waiting while no spoke may run it.

// pickSpoke chooses the step's spoke by placement and creates the step there
// with create: every step is placed on its own, and its input artifacts
// follow it through object storage. What placement needs (the build, its
// artifacts, the policies, the spokes and their loads) is read first; the
// team's placement lock is held over the decision alone, which counts the
// steps this hub decided but has not stored yet (inflight). Creating the
// step checks that the spoke still has room (store.ErrSpokeFull: another
// team or hub replica took it), and the step is placed again if not. While
// no spoke may run the step it waits, saying why once; under fair share it
// waits in the engine's queue for its team's turn (fairshare.go), and a
// step that comes while others wait takes its turn with them.
func (r *run) pickSpoke(ctx context.Context, planID string, req wire.StepRequest, create func(store.Spoke, placement.Decision, store.NewStep) (store.Step, error)) (store.Step, error) {
	began := time.Now()
	var deadline time.Time
	if r.e.placementWait > 0 {
		deadline = began.Add(r.e.placementWait)
	}
	wt := placementWaiter{r: r, planID: planID, req: req, labels: r.stepLabels(req)}
	defer wt.end()
	fair := r.e.fairShare != FairFIFO
	var turn *waiter // the step's place in the fair-share queue, once it waits
	defer func() {
		if turn != nil {
			r.e.fair.leave(turn)
		}
	}()
	if n := r.e.fair.waiting(); fair && n > 0 {
		turn = r.e.fair.join(r.build.TeamID, r.build.TeamName, requests(req))
		if err := wt.say(ctx, placement.Decision{Reason: fmt.Sprintf("waiting its turn: %d steps wait for room (fair share across teams)", n)}); err != nil {
			return store.Step{}, err
		}
	}
	backoff := time.Second
	for {
		if turn != nil {
			if err := r.e.fair.await(ctx, turn, deadline); errors.Is(err, errWaitedTooLong) {
				return store.Step{}, wt.tooLong()
			} else if err != nil {
				return store.Step{}, err
			}
		}
		st, d, err := r.tryPlace(ctx, planID, req, create)
		if err == nil && d.Spoke != "" {
			metrics.StepsWaitDuration.WithLabelValues(wt.labels...).Observe(time.Since(began).Seconds())
			if turn != nil {
				r.e.fair.answer(turn, true, time.Time{})
			}
		}
		if err != nil || d.Spoke != "" {
			return st, err
		}
		// A step whose placement keeps failing (its policies err or time
		// out) is placed again less and less often, up to every 30 s; one
		// that waits for room is placed again every second, or at its turn.
		if len(d.Errors) > 0 {
			backoff = min(2*backoff, maxPlacementBackoff)
		} else {
			backoff = time.Second
		}
		if turn != nil {
			retry := time.Time{}
			if len(d.Errors) > 0 {
				retry = time.Now().Add(backoff)
			}
			r.e.fair.answer(turn, false, retry)
		}
		if err := wt.say(ctx, d); err != nil {
			return store.Step{}, err
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return store.Step{}, wt.tooLong()
		}
		if fair {
			if turn == nil {
				turn = r.e.fair.join(r.build.TeamID, r.build.TeamName, requests(req))
			}
			continue
		}
		select {
		case <-ctx.Done():
			return store.Step{}, errAborted
		case <-time.After(backoff):
		}
	}
}

// tryPlace places the step once: the decision's Spoke is empty (and the
// step not created) when no spoke may run it now.
func (r *run) tryPlace(ctx context.Context, planID string, req wire.StepRequest, create func(store.Spoke, placement.Decision, store.NewStep) (store.Step, error)) (store.Step, placement.Decision, error) {
	in, policies, err := r.placementInput(ctx, planID, req)
	if err != nil {
		return store.Step{}, placement.Decision{}, err
	}
	spokes, byName, err := r.e.placer.Snapshot(ctx)
	if err != nil {
		return store.Step{}, placement.Decision{}, err
	}
	// The quota as of the refresh placementInput made; a team without one
	// reads nothing more.
	quota, held := r.e.placer.TeamQuota(r.build.TeamID), store.Load{}
	if !quota.None() {
		if held, err = r.e.store.TeamOpenLoad(ctx, r.build.TeamID); err != nil {
			return store.Step{}, placement.Decision{}, err
		}
	}
	unlock := r.e.placing.Lock(r.build.TeamID)
	var sp store.Spoke
	var room placement.Resources
	var d placement.Decision
	if why := r.e.inflight.overQuota(r.build.TeamName, r.build.TeamID, quota, held, in.Step.Resources); why != "" {
		d = placement.Decision{Reason: why}
	} else {
		sp, room, d, err = r.observedDecide(ctx, in, spokes, byName, policies)
	}
	release := func() {}
	if err == nil && d.Spoke != "" {
		spokeDone := r.e.inflight.add(d.Spoke, in.Step.Resources)
		teamDone := r.e.inflight.add(teamKey(r.build.TeamID), in.Step.Resources)
		release = func() { spokeDone(); teamDone() }
	}
	unlock()
	if err != nil || d.Spoke == "" {
		return store.Step{}, d, err
	}
	// What the step asks, and what its spoke offers as the snapshot read it.
	ns := store.NewStep{SpokeID: sp.ID, CPU: in.Step.Resources.CPU, Memory: in.Step.Resources.Memory,
		Room: store.Load{Steps: room.Steps, CPU: room.CPU, Memory: room.Memory}}
	st, err := r.e.createOn(ns, func() (store.Step, error) { return create(sp, d, ns) })
	release()
	if !errors.Is(err, store.ErrSpokeFull) {
		return st, d, err
	}
	// Another team or hub replica took the room first: place again.
	return store.Step{}, placement.Decision{Reason: fmt.Sprintf("%s filled up as the step was placed", sp.Name)}, nil
}

// placementWaiter says why a step waits for a spoke: once in the build's
// events, each new reason in its log, its placement decision for fly
// placement, and a span and the waiting gauge while it waits.
type placementWaiter struct {
	r       *run
	planID  string
	req     wire.StepRequest
	labels  []string
	said    string
	waiting trace.Span
}

// say records that the step waits for d's reason.
func (w *placementWaiter) say(ctx context.Context, d placement.Decision) error {
	r := w.r
	raw, _ := json.Marshal(d)
	if err := r.e.store.SavePlacement(ctx, r.build.ID, store.PlacementDecision{PlanID: w.planID, StepName: w.req.Name, Decision: raw}); err != nil {
		return err
	}
	reason := d.Reason
	if len(d.Errors) > 0 {
		reason += ": " + d.ErrorText()
	}
	if w.waiting == nil {
		metrics.StepsWaiting.WithLabelValues(w.labels...).Inc()
		_, w.waiting = telemetry.Tracer().Start(ctx, "wait for spoke", trace.WithAttributes(attribute.String("switchyard.step.name", w.req.Name)))
	}
	if reason == w.said {
		return nil
	}
	w.waiting.AddEvent("placement", trace.WithAttributes(attribute.String("switchyard.placement.reason", reason)))
	if w.said == "" {
		payload, _ := json.Marshal(api.StepEvent{Origin: api.Origin{ID: w.planID}, Time: time.Now().Unix()})
		r.appendEvent(ctx, store.Event{Type: "waiting-for-worker", Version: "1.0", Payload: payload})
	}
	w.said = reason
	payload, _ := json.Marshal(api.LogEvent{Time: time.Now().Unix(), Origin: api.Origin{ID: w.planID, Source: "stderr"},
		Payload: fmt.Sprintf("placement: %s (fly placement -b %d explains)\n", reason, r.build.ID)})
	r.appendEvent(ctx, event(api.EventLog, payload))
	return nil
}

// tooLong is the error of a step that waited for its bound.
func (w *placementWaiter) tooLong() error {
	return fmt.Errorf("no spoke could run the step for %s (the hub's --step-placement-wait): %s", w.r.e.placementWait, w.said)
}

// end closes the wait's span and gauge.
func (w *placementWaiter) end() {
	if w.waiting != nil {
		metrics.StepsWaiting.WithLabelValues(w.labels...).Dec()
		w.waiting.End()
	}
}

// createOn runs create, which creates ns on its spoke. A step that checks
// its spoke's room conflicts with every other such creation on the spoke (a
// serializable transaction fails): this hub's own wait their turn.
func (e *Engine) createOn(ns store.NewStep, create func() (store.Step, error)) (store.Step, error) {
	if ns.Bounded() {
		defer e.creating.Lock(ns.SpokeID)()
	}
	return create()
}

// maxPlacementBackoff bounds how long a step whose placement fails waits
// before it is placed again.
const maxPlacementBackoff = 30 * time.Second

// placementInput is what placement is asked about a step, without the
// spokes, and the policies in force for the build's team.
func (r *run) placementInput(ctx context.Context, planID string, req wire.StepRequest) (placement.Input, []placement.Policy, error) {
	b := r.build
	trusted, err := r.trusted(ctx)
	if err != nil {
		return placement.Input{}, nil, err
	}
	arts, err := r.placementArtifacts(ctx, req)
	if err != nil {
		return placement.Input{}, nil, err
	}
	in := placement.Input{
		Step:      placement.Step{ID: planID, Kind: string(req.Kind), Name: req.Name, Tags: append([]string{}, req.Tags...)},
		Build:     placement.Build{ID: b.ID, Name: b.Name, Job: b.JobName, Pipeline: b.PipelineName, Team: b.TeamName, Trusted: trusted},
		Artifacts: arts,
	}
	if t := req.Task; t != nil {
		in.Step.Privileged = t.Privileged
		if t.Config != nil {
			in.Step.Image = imageOf(t.Config)
		}
	}
	in.Step.Resources = requests(req)
	policies, err := r.e.placer.Policies(ctx, b.TeamID)
	return in, policies, err
}

// trusted tells whether the build's pipeline and job are trusted, as the
// build's vars resolver read it (once per build).
func (r *run) trusted(ctx context.Context) (bool, error) {
	res, err := r.vars(ctx)
	if err != nil {
		return false, err
	}
	return res.Trusted(), nil
}

// observedDecide is decide in a span, counted and timed by outcome.
func (r *run) observedDecide(ctx context.Context, in placement.Input, spokes []placement.Spoke, byName map[string]store.Spoke, policies []placement.Policy) (store.Spoke, placement.Resources, placement.Decision, error) {
	ctx, span := telemetry.Tracer().Start(ctx, "placement", trace.WithAttributes(attribute.String("switchyard.step.name", in.Step.Name),
		attribute.Int("switchyard.placement.spokes", len(spokes)), attribute.Int("switchyard.placement.policies", len(policies))))
	start := time.Now()
	sp, room, d, err := r.decide(ctx, in, spokes, byName, policies)
	outcome := "placed"
	switch {
	case err != nil:
		outcome = "error"
	case d.Spoke == "":
		outcome = "waiting"
		span.SetAttributes(attribute.String("switchyard.placement.reason", d.Reason))
	default:
		span.SetAttributes(attribute.String("switchyard.spoke", d.Spoke), semconv.CICDWorkerName(d.Spoke))
		for _, c := range d.Candidates {
			if c.Spoke == d.Spoke {
				span.SetAttributes(attribute.Float64("switchyard.placement.score", c.Score))
			}
		}
	}
	metrics.Placements.WithLabelValues(outcome).Inc()
	metrics.PlacementSeconds.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
	span.SetAttributes(attribute.String("switchyard.placement.outcome", outcome))
	telemetry.Fail(span, err)
	span.End()
	return sp, room, d, err
}

// decide places the step over a snapshot of the spokes, with the steps
// still in flight counted in their loads, and returns the chosen spoke with
// its capacity. The decision's Spoke is empty when no spoke may run the
// step.
func (r *run) decide(ctx context.Context, in placement.Input, spokes []placement.Spoke, byName map[string]store.Spoke, policies []placement.Policy) (store.Spoke, placement.Resources, placement.Decision, error) {
	r.e.inflight.count(spokes)
	// Each spoke's cached volumes: the step's inputs its cache holds.
	held := map[string][]string{}
	for _, a := range in.Artifacts {
		for _, sp := range a.Spokes {
			held[sp] = append(held[sp], a.Name)
		}
	}
	for i := range spokes {
		if names := held[spokes[i].Name]; len(names) > 0 {
			spokes[i].CachedVolumes = names
		}
	}
	in.Spokes = spokes
	d := placement.Decide(ctx, in, policies)
	if d.Spoke == "" {
		return store.Spoke{}, placement.Resources{}, d, nil
	}
	sp, ok := byName[d.Spoke]
	if !ok {
		return store.Spoke{}, placement.Resources{}, d, fmt.Errorf("placement chose spoke %s, which is not among the spokes it was given", d.Spoke)
	}
	for _, ps := range spokes {
		if ps.Name == d.Spoke {
			return sp, ps.Capacity, d, nil
		}
	}
	return sp, placement.Resources{}, d, nil
}

// inflight is what this hub's placements decided and have not stored yet,
// by spoke: a snapshot read before they are stored does not count them.
type inflight struct {
	mu   sync.Mutex
	load map[string]placement.Resources
}

// add counts a step decided for spoke until release is called (once it is
// stored, or not).
func (f *inflight) add(spoke string, asks placement.Resources) (release func()) {
	asks.Steps = 1
	f.change(spoke, asks, 1)
	var once sync.Once
	return func() { once.Do(func() { f.change(spoke, asks, -1) }) }
}

func (f *inflight) change(spoke string, r placement.Resources, sign int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.load == nil {
		f.load = map[string]placement.Resources{}
	}
	l := f.load[spoke]
	l.Steps += sign * r.Steps
	l.CPU += float64(sign) * r.CPU
	l.Memory += int64(sign) * r.Memory
	if l.Steps == 0 {
		delete(f.load, spoke)
		return
	}
	f.load[spoke] = l
}

// count adds what is in flight to the spokes' loads.
func (f *inflight) count(spokes []placement.Spoke) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range spokes {
		if l, ok := f.load[spokes[i].Name]; ok {
			spokes[i].Load.Steps += l.Steps
			spokes[i].Load.CPU += l.CPU
			spokes[i].Load.Memory += l.Memory
		}
	}
}

// placementArtifacts lists the step's input artifacts with their sizes and
// the spokes whose caches hold them, for locality.
func (r *run) placementArtifacts(ctx context.Context, req wire.StepRequest) ([]placement.Artifact, error) {
	out := []placement.Artifact{}
	if len(req.Artifacts) == 0 {
		return out, nil
	}
	digests := make([]string, 0, len(req.Artifacts))
	for _, ref := range req.Artifacts {
		digests = append(digests, ref.Digest)
	}
	holders, err := r.e.store.ArtifactHolders(ctx, digests)
	if err != nil {
		return nil, err
	}
	for name, ref := range req.Artifacts {
		out = append(out, placement.Artifact{Name: name, Size: ref.Size, Spokes: append([]string{}, holders[ref.Digest]...)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// requests is what a step asks of its spoke: a task's container_limits
// (Concourse's CPU shares, 1024 a CPU, and memory bytes).
func requests(req wire.StepRequest) placement.Resources {
	var r placement.Resources
	if req.Task == nil || req.Task.Config == nil || req.Task.Config.ContainerLimits == nil {
		return r
	}
	l := req.Task.Config.ContainerLimits
	r.Memory = int64(l.Memory)
	if l.CPU != nil {
		r.CPU = float64(*l.CPU) / 1024
	}
	return r
}

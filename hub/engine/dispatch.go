package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/notify"
	"github.com/switchyard-ci/switchyard/hub/placer"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/placement"
	"github.com/switchyard-ci/switchyard/wire"
)

// dispatch runs a get, put or task on a spoke: it creates the step (or finds the
// one created before a restart), waits for its result and records what it
// produced.
func (r *run) dispatch(ctx context.Context, p *pipeline.Plan) (bool, error) {
	kind, req, err := r.request(ctx, p)
	if err != nil {
		return false, err
	}
	if err := r.admitTask(ctx, p.ID, req); err != nil {
		return false, err
	}
	res, err := r.runStep(ctx, p.ID, attempt(p), kind, req)
	if err != nil {
		return false, err
	}
	if res.Error != "" {
		return false, errors.New(res.Error)
	}
	if res.ExitStatus != 0 {
		return false, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range res.Artifacts {
		r.artifacts[a.Name] = a.ArtifactRef
	}
	if kind == "put" {
		r.versionFrom[p.ID] = res.Version
		id, err := r.saveVersions(ctx, p.Put.Resource, []map[string]string{res.Version})
		if err != nil {
			return false, err
		}
		r.outputs = append(r.outputs, store.RecordedOutput{ResourceID: id, Version: res.Version})
	}
	return true, nil
}

func attempt(p *pipeline.Plan) int {
	if len(p.Attempts) == 0 {
		return 1
	}
	return p.Attempts[len(p.Attempts)-1]
}

// request builds what the spoke runs for a plan node.
func (r *run) request(ctx context.Context, p *pipeline.Plan) (_ wire.StepKind, req wire.StepRequest, _ error) {
	req = wire.StepRequest{Env: r.env()}
	r.mu.Lock()
	artifacts := make(map[string]string, len(r.artifacts))
	refs := make(map[string]wire.ArtifactRef, len(r.artifacts))
	for a, ref := range r.artifacts {
		artifacts[a], refs[a] = a, ref
	}
	r.mu.Unlock()
	defer func() { req.Artifacts = neededArtifacts(req, refs) }()
	switch {
	case p.Get != nil:
		g := p.Get
		req.Kind, req.Name, req.Type, req.Tags = wire.KindGet, g.Name, g.Type, g.Tags
		if err := typeImage(&req, g.Image); err != nil {
			return "", req, err
		}
		req.Source, _ = json.Marshal(g.Source)
		req.Params, _ = json.Marshal(g.Params)
		version, err := r.getVersion(ctx, p)
		if err != nil {
			return "", req, err
		}
		req.Version = version
		req.Outputs = map[string]string{g.Name: g.Name}
	case p.Put != nil:
		put := p.Put
		req.Kind, req.Name, req.Type, req.Tags = wire.KindPut, put.Name, put.Type, put.Tags
		if err := typeImage(&req, put.Image); err != nil {
			return "", req, err
		}
		req.Source, _ = json.Marshal(put.Source)
		req.Params, _ = json.Marshal(put.Params)
		req.Inputs = artifacts
		if names, ok := put.Inputs.([]any); ok {
			req.Inputs = map[string]string{}
			for _, n := range names {
				if s, ok := n.(string); ok {
					req.Inputs[s] = s
				}
			}
		}
	case p.Task != nil:
		t := p.Task
		if t.Image != "" {
			// Not run in the default image instead: that would be a wrong build.
			return "", req, fmt.Errorf("task %s: image: %s (a task image from an artifact) is not supported by Switchyard's spokes yet; give the task an image_resource", t.Name, t.Image)
		}
		req.Kind, req.Name, req.Tags = wire.KindTask, t.Name, t.Tags
		req.Task = &wire.TaskRequest{Config: t.Config, ConfigPath: t.ConfigPath, Params: t.Params, Privileged: t.Privileged, OutputMapping: t.OutputMapping}
		req.Inputs = artifacts
		for input, artifact := range t.InputMapping {
			req.Inputs[input] = artifact
		}
		if t.Config != nil {
			req.Outputs = map[string]string{}
			for _, o := range t.Config.Outputs {
				artifact := o.Name
				if mapped, ok := t.OutputMapping[o.Name]; ok {
					artifact = mapped
				}
				req.Outputs[o.Name] = artifact
			}
		}
	}
	return req.Kind, req, nil
}

// artifactInput makes an artifact uploaded by fly execute a build artifact
// under the input's name. Only the build's team's uploads may be taken.
func (r *run) artifactInput(ctx context.Context, in *pipeline.ArtifactInputPlan) (bool, error) {
	a, err := r.e.store.ArtifactByID(ctx, in.ArtifactID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && a.TeamID != r.build.TeamID) {
		return false, fmt.Errorf("artifact_input %s: team %s has no artifact %d", in.Name, r.build.TeamName, in.ArtifactID)
	}
	if err != nil {
		return false, err
	}
	if _, err := r.e.store.AddArtifact(ctx, store.Artifact{BuildID: r.build.ID, TeamID: a.TeamID, Name: in.Name, Digest: a.Digest, Size: a.Size}); err != nil {
		return false, err
	}
	r.mu.Lock()
	r.artifacts[in.Name] = wire.ArtifactRef{Digest: a.Digest, Size: a.Size}
	r.mu.Unlock()
	return true, nil
}

// admitTask asks the policies in force, as the task is about to run, about
// its image and its privilege (Concourse checks both as steps run; fly
// execute's one-off builds are checked nowhere else). A blocking answer
// errors the step with the reasons; warnings go to its log.
func (r *run) admitTask(ctx context.Context, planID string, req wire.StepRequest) error {
	t := req.Task
	if t == nil || t.Config == nil {
		return nil
	}
	use := pipeline.TaskUse{Job: r.build.JobName, Step: req.Name, Image: imageOf(t.Config), Privileged: t.Privileged}
	ask := func(action string) placer.Question {
		return placer.Question{Action: action, Team: r.build.TeamName, User: r.build.CreatedBy, Pipeline: r.build.PipelineName, Data: use}
	}
	var questions []placer.Question
	if use.Image != "" {
		questions = append(questions, ask("use_image"))
	}
	if use.Privileged {
		questions = append(questions, ask("use_privileged"))
	}
	if len(questions) == 0 {
		return nil
	}
	v, err := r.e.placer.Admit(ctx, r.build.TeamID, questions)
	if err != nil {
		return err
	}
	for _, w := range v.Warnings {
		payload, _ := json.Marshal(api.LogEvent{Time: time.Now().Unix(), Origin: api.Origin{ID: planID, Source: "stderr"}, Payload: "policy check warning: " + w + "\n"})
		r.appendEvent(ctx, event(api.EventLog, payload))
	}
	if len(v.Blocked) > 0 {
		return fmt.Errorf("policy check failed: %s", strings.Join(v.Blocked, "; "))
	}
	return nil
}

// neededArtifacts picks the build artifacts a step reads: a task's inputs
// when its config is known (all of them when the config is in an artifact),
// a put's inputs.
func neededArtifacts(req wire.StepRequest, refs map[string]wire.ArtifactRef) map[string]wire.ArtifactRef {
	names := req.Inputs
	if t := req.Task; t != nil && t.Config != nil {
		names = map[string]string{}
		for _, in := range t.Config.Inputs {
			artifact, ok := req.Inputs[in.Name]
			if !ok {
				artifact = in.Name
			}
			names[in.Name] = artifact
		}
	}
	out := map[string]wire.ArtifactRef{}
	for _, artifact := range names {
		if ref, ok := refs[artifact]; ok {
			out[artifact] = ref
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// typeImage gives a resource step the image of its custom type.
func typeImage(req *wire.StepRequest, image pipeline.TypeImage) error {
	var err error
	req.TypeImage, req.TypePrivileged, err = image.Container()
	return err
}

// implicitCheck is the step kind of a check a get runs when its resource has
// no versions yet: it runs as a check but shows no events of its own.
const implicitCheck wire.StepKind = "implicit-check"

// check runs a check build's check and saves the versions it finds.
func (r *run) check(ctx context.Context, p *pipeline.Plan) (bool, error) {
	c := p.Check
	source, _ := json.Marshal(c.Source)
	req := wire.StepRequest{Kind: "check", Name: c.Name, Type: c.Type, Source: source, Version: c.FromVersion, Tags: c.Tags, Env: r.env()}
	if err := typeImage(&req, c.Image); err != nil {
		return false, err
	}
	res, err := r.runStep(ctx, p.ID, attempt(p), "check", req)
	if err != nil {
		return false, err
	}
	if res.Error != "" {
		return false, errors.New(res.Error)
	}
	if res.ExitStatus != 0 {
		return false, nil
	}
	_, err = r.saveVersions(ctx, c.Resource, res.Versions)
	return err == nil, err
}

// getVersion picks the version a get fetches: a pinned one, the one a put
// created, or the newest known; with none known it checks the resource first.
// (Passed constraints and every are the algorithm issue's.)
func (r *run) getVersion(ctx context.Context, p *pipeline.Plan) (map[string]string, error) {
	g := p.Get
	if g.Version != nil {
		return g.Version, nil
	}
	if g.VersionFrom != "" {
		r.mu.Lock()
		v, ok := r.versionFrom[g.VersionFrom]
		r.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("get %s: the put it follows (%s) created no version", g.Name, g.VersionFrom)
		}
		return v, nil
	}
	res, err := r.e.store.ResourceByName(ctx, r.build.PipelineID, g.Resource)
	if err != nil {
		return nil, err
	}
	for tries := 0; tries < 2; tries++ {
		vs, err := r.e.store.Versions(ctx, res.ID, 1)
		if err != nil {
			return nil, err
		}
		if len(vs) > 0 {
			return vs[0].Version, nil
		}
		if tries > 0 {
			break
		}
		// Nothing known yet: check the resource once, on the build's spoke.
		source, _ := json.Marshal(g.Source)
		check := wire.StepRequest{Kind: "check", Name: g.Resource, Type: g.Type, Source: source, Tags: g.Tags, Env: r.env()}
		if err := typeImage(&check, g.Image); err != nil {
			return nil, err
		}
		out, err := r.runStep(ctx, p.ID+"/check", 1, implicitCheck, check)
		if err != nil {
			return nil, err
		}
		if out.Error != "" || out.ExitStatus != 0 {
			return nil, fmt.Errorf("check of resource %s failed: %s", g.Resource, out.Error)
		}
		if _, err := r.saveVersions(ctx, g.Resource, out.Versions); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("resource %s has no versions: give it one with fly check-resource -r %s/%s", g.Resource, r.build.PipelineName, g.Resource)
}

// saveVersions saves versions of a resource of the build's pipeline and
// returns the resource's id.
func (r *run) saveVersions(ctx context.Context, resource string, versions []map[string]string) (int64, error) {
	res, err := r.e.store.ResourceByName(ctx, r.build.PipelineID, resource)
	if err != nil || len(versions) == 0 {
		return res.ID, err
	}
	if err := r.e.store.SaveVersions(ctx, res.ID, versions, nil); err != nil {
		return res.ID, err
	}
	r.e.WakeScheduler()
	return res.ID, nil
}

func (r *run) env() map[string]string {
	b := r.build
	return map[string]string{
		"BUILD_ID": strconv.FormatInt(b.ID, 10), "BUILD_NAME": b.Name, "BUILD_JOB_NAME": b.JobName,
		"BUILD_PIPELINE_NAME": b.PipelineName, "BUILD_TEAM_NAME": b.TeamName,
	}
}

// runStep makes sure the step exists (creating it on a spoke if this is its first
// run) and waits for its result. A run the spoke lost (evicted, or gone with its
// node) is followed by a new one, up to wire.MaxRuns. If ctx ends first the
// step is aborted.
func (r *run) runStep(ctx context.Context, planID string, attempt int, kind wire.StepKind, req wire.StepRequest) (wire.Result, error) {
	for n := 1; ; n++ {
		res, err := r.runOnce(ctx, store.StepKey{BuildID: r.build.ID, PlanID: planID, Attempt: attempt, Run: n}, kind, req)
		if err != nil || !res.Lost || n >= wire.MaxRuns {
			return res, err
		}
	}
}

// runOnce runs one run of a step.
func (r *run) runOnce(ctx context.Context, key store.StepKey, kind wire.StepKind, req wire.StepRequest) (wire.Result, error) {
	st, err := r.e.store.StepByKey(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		st, err = r.createStep(ctx, key, kind, req)
	}
	if err != nil {
		return wire.Result{}, err
	}
	for {
		st, err = r.e.store.Step(context.WithoutCancel(ctx), st.ID)
		if err != nil {
			return wire.Result{}, err
		}
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
				r.e.log.Error("abort step", slog.Int64("step", st.ID), slog.String("error", err.Error()))
			}
			r.e.notify.Notify(notify.SpokeKey(st.SpokeID))
			return wire.Result{}, errAborted
		}
		r.e.notify.Wait(ctx, buildKey(r.build.ID), time.Second)
	}
}

// createStep places a new step on the build's spoke (choosing one for the first
// step) and records it with its initialize and selected-worker events.
func (r *run) createStep(ctx context.Context, key store.StepKey, kind wire.StepKind, req wire.StepRequest) (store.Step, error) {
	return r.pickSpoke(ctx, key.PlanID, req, func(sp store.Spoke, d placement.Decision) (store.Step, error) {
		return r.recordStep(ctx, key, kind, req, sp, d)
	})
}

// recordStep records a placed step with its initialize and selected-worker
// events, and the placement's summary when there was a choice.
func (r *run) recordStep(ctx context.Context, key store.StepKey, kind wire.StepKind, req wire.StepRequest, sp store.Spoke, d placement.Decision) (store.Step, error) {
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
	if kind != implicitCheck {
		payload, _ := json.Marshal(api.SelectedWorkerEvent{Time: now, Origin: origin, SelectedWorker: sp.Name})
		events = append(events, event(api.EventSelectedWorker, payload))
		if len(d.Candidates) > 1 { // a choice was made: say why, in a line stock fly shows
			payload, _ := json.Marshal(api.LogEvent{Time: now, Origin: api.Origin{ID: key.PlanID, Source: "stderr"},
				Payload: fmt.Sprintf("placement: %s (fly placement -b %d explains)\n", d.Summary(), r.build.ID)})
			events = append(events, event(api.EventLog, payload))
		}
	}
	asks := requests(req)
	var room placement.Resources
	_ = json.Unmarshal(sp.Capacity, &room) // as the placer reads it
	st, err := r.e.store.EnsureStep(ctx, key, r.fence, store.NewStep{Kind: kind, SpokeID: sp.ID, Request: raw, CPU: asks.CPU, Memory: asks.Memory,
		Room: store.Load{Steps: room.Steps, CPU: room.CPU, Memory: room.Memory}}, events...)
	if err != nil {
		return st, err
	}
	r.e.notify.Notify(notify.SpokeKey(sp.ID))
	r.e.notify.Notify(notify.EventsKey(r.build.ID))
	return st, nil
}

// pickSpoke chooses the step's spoke by placement and creates the step there
// with create: every step is placed on its own, and its input artifacts
// follow it through object storage. Placing and creating hold the engine's
// placement lock, so that the next placement counts the step in its spoke's
// load; across hub replicas, creating the step checks that the spoke still
// has room (store.ErrSpokeFull), and the step is placed again if not. While
// no spoke may run the step it waits, saying why once.
func (r *run) pickSpoke(ctx context.Context, planID string, req wire.StepRequest, create func(store.Spoke, placement.Decision) (store.Step, error)) (store.Step, error) {
	said := ""
	lock := r.e.placingLock(r.build.TeamID)
	wait := time.Second
	for {
		lock.Lock()
		sp, d, err := r.place(ctx, planID, req)
		if err == nil && d.Spoke != "" {
			st, err := create(sp, d)
			lock.Unlock()
			if !errors.Is(err, store.ErrSpokeFull) {
				return st, err
			}
			// Another team or hub replica took the room first: place again.
			d.Reason = fmt.Sprintf("%s filled up as the step was placed", sp.Name)
		} else {
			lock.Unlock()
		}
		if err != nil && !errors.Is(err, store.ErrSpokeFull) {
			return store.Step{}, err
		}
		reason := d.Reason
		if len(d.Errors) > 0 {
			reason += ": " + d.ErrorText()
		}
		if reason != said {
			if said == "" {
				payload, _ := json.Marshal(api.StepEvent{Origin: api.Origin{ID: planID}, Time: time.Now().Unix()})
				r.appendEvent(ctx, store.Event{Type: "waiting-for-worker", Version: "1.0", Payload: payload})
			}
			said = reason
			payload, _ := json.Marshal(api.LogEvent{Time: time.Now().Unix(), Origin: api.Origin{ID: planID, Source: "stderr"},
				Payload: fmt.Sprintf("placement: %s (fly placement -b %d explains)\n", reason, r.build.ID)})
			r.appendEvent(ctx, event(api.EventLog, payload))
		}
		// A step whose placement keeps failing (its policies err or time
		// out) is placed again less and less often, up to every 30 s; one
		// that waits for room is placed again every second.
		if len(d.Errors) > 0 {
			wait = min(2*wait, maxPlacementBackoff)
		} else {
			wait = time.Second
		}
		select {
		case <-ctx.Done():
			return store.Step{}, errAborted
		case <-time.After(wait):
		}
	}
}

// maxPlacementBackoff bounds how long a step whose placement fails waits
// before it is placed again.
const maxPlacementBackoff = 30 * time.Second

// place decides where a step goes and records the decision, whose Spoke is
// empty when no spoke may run it.
func (r *run) place(ctx context.Context, planID string, req wire.StepRequest) (store.Spoke, placement.Decision, error) {
	spokes, err := r.e.placer.Snapshot(ctx)
	if err != nil {
		return store.Spoke{}, placement.Decision{}, err
	}
	b := r.build
	trusted := true
	if b.PipelineID != 0 {
		if trusted, err = r.e.store.BuildTrusted(ctx, b.PipelineID, b.JobID); err != nil {
			return store.Spoke{}, placement.Decision{}, err
		}
	}
	arts, err := r.placementArtifacts(ctx, req)
	if err != nil {
		return store.Spoke{}, placement.Decision{}, err
	}
	// Each spoke's cached volumes: the step's inputs its cache holds.
	held := map[string][]string{}
	for _, a := range arts {
		for _, sp := range a.Spokes {
			held[sp] = append(held[sp], a.Name)
		}
	}
	for i := range spokes {
		if names := held[spokes[i].Name]; len(names) > 0 {
			spokes[i].CachedVolumes = names
		}
	}
	in := placement.Input{
		Step:      placement.Step{ID: planID, Kind: string(req.Kind), Name: req.Name, Tags: append([]string{}, req.Tags...)},
		Build:     placement.Build{ID: b.ID, Name: b.Name, Job: b.JobName, Pipeline: b.PipelineName, Team: b.TeamName, Trusted: trusted},
		Artifacts: arts, Spokes: spokes,
	}
	if t := req.Task; t != nil {
		in.Step.Privileged = t.Privileged
		if t.Config != nil {
			in.Step.Image = imageOf(t.Config)
		}
	}
	in.Step.Resources = requests(req)
	d, err := r.e.placer.Place(ctx, b.TeamID, in)
	if err != nil {
		return store.Spoke{}, d, err
	}
	raw, _ := json.Marshal(d)
	if err := r.e.store.SavePlacement(ctx, b.ID, store.PlacementDecision{PlanID: planID, StepName: req.Name, Spoke: d.Spoke, Decision: raw}); err != nil {
		return store.Spoke{}, placement.Decision{}, err
	}
	if d.Spoke == "" {
		return store.Spoke{}, d, nil
	}
	sp, err := r.e.store.SpokeByName(ctx, d.Spoke)
	return sp, d, err
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

// imageOf names a task's image as policies see it: its image_resource's
// repository and tag, or its rootfs_uri.
func imageOf(cfg *pipeline.TaskConfig) string {
	if ir := cfg.ImageResource; ir != nil {
		return pipeline.RegistryImage(ir.Source)
	}
	return cfg.RootfsURI
}

func event(typ string, payload []byte) store.Event {
	return store.Event{Type: typ, Version: api.EventVersions[typ], Payload: payload}
}

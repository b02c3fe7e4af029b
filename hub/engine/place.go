package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/placement"
	"github.com/switchyard-ci/switchyard/wire"
)

// Placement: where each step goes, and waiting while no spoke may run it.

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

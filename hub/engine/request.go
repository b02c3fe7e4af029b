package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/wire"
)

// Building what a spoke runs for a plan node: the step request, its inputs
// (a custom type's image is typeimage.go's).

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
		req.Source, _ = json.Marshal(g.Source)
		req.Params, _ = json.Marshal(g.Params)
		version, err := r.getVersion(ctx, p)
		if err != nil {
			return "", req, err
		}
		req.Version = version
		req.Outputs = map[string]string{g.Name: g.Name}
		if g.Image.CheckPlan != nil { // a custom type's gets are kept in resource caches on kube spokes
			epoch, err := r.e.store.ResourceCacheEpoch(ctx, r.build.PipelineID, g.Resource, version)
			if err != nil {
				return "", req, err
			}
			if epoch > 0 {
				req.CacheEpochs = map[string]int64{"": epoch}
			}
		}
	case p.Put != nil:
		put := p.Put
		req.Kind, req.Name, req.Type, req.Tags = wire.KindPut, put.Name, put.Type, put.Tags
		req.Source, _ = json.Marshal(put.Source)
		var params map[string]any
		params, req.RerunWhenLost = putRerun(put)
		req.Params, _ = json.Marshal(params)
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
			if _, ok := refs[t.Image]; !ok {
				// Not run in the default image instead: that would be a wrong build.
				return "", req, fmt.Errorf("missing image artifact source: %s\n\nmake sure there's a corresponding 'get' step, or a task that produces it as an output", t.Image)
			}
		}
		req.Kind, req.Name, req.Tags = wire.KindTask, t.Name, t.Tags
		req.Task = &wire.TaskRequest{Config: t.Config, ConfigPath: t.ConfigPath, Params: t.Params, Privileged: t.Privileged, OutputMapping: t.OutputMapping, Image: t.Image}
		if t.Image != "" {
			req.Task.ImageSource = r.imageSource(t.Image)
		}
		req.Inputs = artifacts
		for input, artifact := range t.InputMapping {
			req.Inputs[input] = artifact
		}
		if epochs, err := r.taskCacheEpochs(ctx, t); err != nil {
			return "", req, err
		} else if len(epochs) > 0 {
			req.CacheEpochs = epochs
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

// taskCacheEpochs are the cache epochs of a job's task step, read once per
// build, when the task has caches (or may have: its config is in a file).
func (r *run) taskCacheEpochs(ctx context.Context, t *pipeline.TaskPlan) (map[string]int64, error) {
	if r.build.JobID == 0 || (t.Config != nil && len(t.Config.Caches) == 0) {
		return nil, nil
	}
	r.mu.Lock()
	epochs := r.cacheEpochs
	r.mu.Unlock()
	if epochs == nil {
		var err error
		if epochs, err = r.e.store.TaskCacheEpochs(ctx, r.build.JobID); err != nil {
			return nil, err
		}
		r.mu.Lock()
		r.cacheEpochs = epochs
		r.mu.Unlock()
	}
	return epochs[t.Name], nil
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
	if t := req.Task; t != nil && t.Image != "" {
		if ref, ok := refs[t.Image]; ok {
			out[t.Image] = ref
		}
	}
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

func (r *run) env() map[string]string {
	b := r.build
	return map[string]string{
		"BUILD_ID": strconv.FormatInt(b.ID, 10), "BUILD_NAME": b.Name, "BUILD_JOB_NAME": b.JobName,
		"BUILD_PIPELINE_NAME": b.PipelineName, "BUILD_TEAM_NAME": b.TeamName,
	}
}

// putRerun is a put's params as its resource sees them (without
// wire.RerunParam), and whether the put may run again when its run is lost:
// its built-in type's put is idempotent (a custom type of a built-in type's
// name is not that type), or the step's params say so.
func putRerun(put *pipeline.PutPlan) (map[string]any, bool) {
	idempotent := put.Image.CheckPlan == nil && wire.IdempotentPutTypes[put.Type]
	v, ok := put.Params[wire.RerunParam]
	if !ok {
		return put.Params, idempotent
	}
	out := make(map[string]any, len(put.Params)-1)
	for k, p := range put.Params {
		if k != wire.RerunParam {
			out[k] = p
		}
	}
	return out, idempotent || v == true
}

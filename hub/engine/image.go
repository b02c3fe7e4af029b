package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/wire"
)

// A task's image_resource is fetched as steps of their own, as Concourse
// does: a check (unless the image_resource gives a version) and a get, with
// their events under <task>/image-check and <task>/image-get; the task then
// runs in the artifact the get made, as with image:. The version is chosen
// once per build and step, so a retried attempt runs the same image.
//
// A mock image_resource (Concourse's mirror_self) is the runtime's own
// default image, not fetched: the host's file system on a local spoke, the
// default image on a kube spoke.

// imageArtifact is the build artifact that holds a task step's fetched image.
func imageArtifact(planID string) string {
	sum := sha256.Sum256([]byte(planID))
	return ".image-" + hex.EncodeToString(sum[:8])
}

// fetchTaskImage fetches the image_resource of a task request that has no
// image yet, and gives the request the artifact that holds it.
func (r *run) fetchTaskImage(ctx context.Context, p *pipeline.Plan, req *wire.StepRequest) error {
	t := req.Task
	if t == nil || t.Image != "" {
		return nil
	}
	cfg := t.Config
	if cfg == nil && t.ConfigPath != "" {
		// Read for its image_resource, as an inline config's; the spoke
		// reads the file again to run the task.
		data, err := r.readFile(ctx, p.ID+"/config", t.ConfigPath, req.Inputs, req.Tags)
		if err != nil {
			return err
		}
		if cfg, err = pipeline.LoadTaskConfig(t.ConfigPath, data); err != nil {
			return err
		}
	}
	if cfg == nil || cfg.ImageResource == nil || cfg.ImageResource.Type == "mock" {
		return nil
	}
	ir := cfg.ImageResource
	source, _ := json.Marshal(ir.Source)
	params, _ := json.Marshal(ir.Params)
	env := r.env()

	r.mu.Lock()
	version, chosen := r.imageVersions[p.ID]
	r.mu.Unlock()
	if !chosen && ir.Version != nil {
		version, chosen = ir.Version, true
	}
	if !chosen {
		check := wire.StepRequest{Kind: wire.KindCheck, Name: "image", Type: ir.Type, Source: source, Tags: ir.Tags, Env: env}
		res, err := r.runStep(ctx, p.ID+"/image-check", 1, wire.KindCheck, check)
		if err != nil {
			return err
		}
		if res.Error != "" || res.ExitStatus != 0 {
			return fmt.Errorf("task %s: check of its image_resource failed: %s", req.Name, res.Error)
		}
		if len(res.Versions) == 0 {
			return fmt.Errorf("task %s: its image_resource (%s) has no versions", req.Name, ir.Type)
		}
		version = res.Versions[len(res.Versions)-1]
		r.mu.Lock()
		r.imageVersions[p.ID] = version
		r.mu.Unlock()
	}

	artifact := imageArtifact(p.ID)
	get := wire.StepRequest{Kind: wire.KindGet, Name: "image", Type: ir.Type, Source: source, Params: params, Version: version,
		Tags: ir.Tags, Env: env, Outputs: map[string]string{artifact: artifact}, ForTask: true}
	res, err := r.runStep(ctx, p.ID+"/image-get", attempt(p), wire.KindGet, get)
	if err != nil {
		return err
	}
	if res.Error != "" {
		return stepError(res.Error)
	}
	r.keepArtifacts(res)
	t.Image = artifact
	if ir.Type == "registry-image" {
		t.ImageSource = source
	}
	r.needArtifact(req, artifact)
	return nil
}

// keepArtifacts records the build artifacts a step made.
func (r *run) keepArtifacts(res wire.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range res.Artifacts {
		r.artifacts[a.Name] = a.ArtifactRef
	}
}

// needArtifact adds a build artifact to those the step's spoke fetches;
// ok is false when the build has no such artifact.
func (r *run) needArtifact(req *wire.StepRequest, artifact string) (ok bool) {
	r.mu.Lock()
	ref, ok := r.artifacts[artifact]
	r.mu.Unlock()
	if !ok {
		return false
	}
	if req.Artifacts == nil {
		req.Artifacts = map[string]wire.ArtifactRef{}
	}
	req.Artifacts[artifact] = ref
	return true
}

// imageSource is the source of the registry-image get in the build's plan
// that makes artifact, for a task whose image: it is.
func (r *run) imageSource(artifact string) json.RawMessage {
	var found json.RawMessage
	var walk func(p *pipeline.Plan)
	walk = func(p *pipeline.Plan) {
		if g := p.Get; g != nil && g.Name == artifact && g.Type == "registry-image" && found == nil {
			found, _ = json.Marshal(g.Source)
		}
		for _, c := range p.Children() {
			walk(c)
		}
	}
	walk(&r.plan)
	return found
}

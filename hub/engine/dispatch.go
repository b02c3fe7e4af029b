package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/pipeline"
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
	if err := r.fetchTaskImage(ctx, p, &req); err != nil {
		return false, err
	}
	if err := r.typeImage(ctx, &req, resourceTypeImage(p)); err != nil {
		return false, err
	}
	res, ok, err := r.runAndRead(ctx, p, kind, req)
	if err != nil || !ok {
		return false, err
	}
	r.keepArtifacts(res)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case kind == "put":
		r.versionFrom[p.ID] = res.Version
		id, err := r.saveVersions(ctx, p.Put.Resource, []map[string]string{res.Version}, []json.RawMessage{metadataJSON(res.Metadata)})
		if err != nil {
			return false, err
		}
		r.outputs = append(r.outputs, store.RecordedOutput{ResourceID: id, Version: res.Version})
	case kind == "get" && len(res.Metadata) > 0 && p.Get.Resource != "" && r.build.PipelineID != 0:
		// What the resource said of the version it fetched is kept with the
		// version (Concourse does so too): the resource page shows it.
		// The get succeeded either way: metadata not kept is logged.
		if err := r.e.store.SaveVersionMetadata(ctx, r.build.PipelineID, p.Get.Resource, res.Version, metadataJSON(res.Metadata)); err != nil {
			r.e.log.WarnContext(ctx, "version metadata not kept", "build", r.build.ID, "error", err.Error())
		}
	}
	return true, nil
}

// metadataJSON is a step's metadata as the store keeps it; nil for none
// (the store keeps [] then).
func metadataJSON(md []wire.MetadataField) json.RawMessage {
	if len(md) == 0 {
		return nil
	}
	b, _ := json.Marshal(md)
	return b
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

// resourceTypeImage is the type image of a get or put.
func resourceTypeImage(p *pipeline.Plan) pipeline.TypeImage {
	switch {
	case p.Get != nil:
		return p.Get.Image
	case p.Put != nil:
		return p.Put.Image
	}
	return pipeline.TypeImage{}
}

package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/wire"
)

// A custom resource type's image is fetched as Concourse fetches it: the
// type's check and get run as steps of their own (<id>/image-check and
// <id>/image-get, with their events), each in the image of the type's own
// type, so a custom type of a custom type works. A build chooses one
// version of each type and runs every step of the type in it: the newest
// one stored when the type was checked within typeCheckInterval (by another
// build or by fly check-resource-type), otherwise the newest its own check
// finds. The image is fetched once per build and type.

// typeCheckInterval is how long a type's check stays fresh for the builds
// that use it.
const typeCheckInterval = time.Minute

// typeImage gives a resource step the image of its custom type, fetching it
// first; a core type needs none.
func (r *run) typeImage(ctx context.Context, req *wire.StepRequest, image pipeline.TypeImage) error {
	if image.CheckPlan == nil || image.CheckPlan.Check == nil || image.GetPlan == nil || image.GetPlan.Get == nil {
		return nil
	}
	g := image.GetPlan.Get
	source, _ := json.Marshal(g.Source)
	r.mu.Lock()
	artifact, fetched := r.typeArtifacts[g.Name]
	r.mu.Unlock()
	if !fetched {
		version, err := r.typeVersion(ctx, image.CheckPlan)
		if err != nil {
			return err
		}
		params, _ := json.Marshal(g.Params)
		artifact = imageArtifact(image.GetPlan.ID)
		get := wire.StepRequest{Kind: wire.KindGet, Name: g.Name, Type: g.Type, Source: source, Params: params, Version: version,
			Tags: g.Tags, Env: r.env(), Outputs: map[string]string{artifact: artifact}, ForTask: true}
		if err := r.typeImage(ctx, &get, g.Image); err != nil {
			return err
		}
		res, err := r.runStep(ctx, image.GetPlan.ID, 1, wire.KindGet, get)
		if err != nil {
			return err
		}
		if res.Error != "" || res.ExitStatus != 0 {
			return fmt.Errorf("resource type %s: the get of its image failed: %s", g.Name, orExit(res))
		}
		r.keepArtifacts(res)
		r.mu.Lock()
		r.typeArtifacts[g.Name] = artifact
		r.mu.Unlock()
	}
	if !r.needArtifact(req, artifact) {
		return fmt.Errorf("resource type %s: the get of its image made no artifact", g.Name)
	}
	req.TypeImage, req.TypePrivileged = artifact, image.Privileged
	if g.Type == "registry-image" {
		req.TypeImageSource = source
	}
	return nil
}

// typeVersion chooses the version of a custom type that the build runs.
func (r *run) typeVersion(ctx context.Context, checkPlan *pipeline.Plan) (map[string]string, error) {
	c := checkPlan.Check
	r.mu.Lock()
	version, chosen := r.typeVersions[c.ResourceType]
	r.mu.Unlock()
	if chosen {
		return version, nil
	}
	pipelineID := r.build.PipelineID
	var stored store.TypeVersion
	var found bool
	if pipelineID != 0 {
		var err error
		if stored, found, err = r.e.store.NewestTypeVersion(ctx, pipelineID, c.ResourceType, c.Source); err != nil {
			return nil, err
		}
		if found && time.Since(stored.Checked) < typeCheckInterval {
			return r.chooseTypeVersion(c.ResourceType, stored.Version), nil
		}
	}
	source, _ := json.Marshal(c.Source)
	check := wire.StepRequest{Kind: wire.KindCheck, Name: c.Name, Type: c.Type, Source: source, Tags: c.Tags, Env: r.env()}
	if err := r.typeImage(ctx, &check, c.Image); err != nil {
		return nil, err
	}
	res, err := r.runStep(ctx, checkPlan.ID, 1, wire.KindCheck, check)
	if err != nil {
		return nil, err
	}
	if res.Error != "" || res.ExitStatus != 0 {
		return nil, fmt.Errorf("resource type %s: the check of its image failed: %s", c.ResourceType, orExit(res))
	}
	if len(res.Versions) == 0 {
		if found {
			return r.chooseTypeVersion(c.ResourceType, stored.Version), nil // the check found nothing new
		}
		return nil, fmt.Errorf("resource type %s: the check of its image found no versions", c.ResourceType)
	}
	if pipelineID != 0 {
		// A one-off build's type (fly execute -j) may be one its pipeline no longer has.
		if err := r.e.store.SaveTypeVersions(ctx, pipelineID, c.ResourceType, c.Source, res.Versions); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return r.chooseTypeVersion(c.ResourceType, res.Versions[len(res.Versions)-1]), nil
}

// chooseTypeVersion pins a type's version for the rest of the build; a
// version chosen meanwhile by a parallel step wins.
func (r *run) chooseTypeVersion(typeName string, v map[string]string) map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if chosen, ok := r.typeVersions[typeName]; ok {
		return chosen
	}
	r.typeVersions[typeName] = v
	return v
}

// orExit is a failed step's error, or its exit status when it gave none.
func orExit(res wire.Result) string {
	if res.Error != "" {
		return res.Error
	}
	return fmt.Sprintf("exit status %d", res.ExitStatus)
}

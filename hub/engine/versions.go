package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/switchyard-ci/switchyard/metrics"
	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/wire"
)

// Versions: check builds, and the version a get fetches.

// implicitCheck is the step kind of a check a get runs when its resource has
// no versions yet: it runs as a check but shows no events of its own.
const implicitCheck wire.StepKind = "implicit-check"

// check runs a check build's check and saves the versions it finds.
func (r *run) check(ctx context.Context, p *pipeline.Plan) (bool, error) {
	c := p.Check
	source, _ := json.Marshal(c.Source)
	req := wire.StepRequest{Kind: wire.KindCheck, Name: c.Name, Type: c.Type, Source: source, Version: c.FromVersion, Tags: c.Tags, Env: r.env()}
	if err := r.typeImage(ctx, &req, c.Image); err != nil {
		return false, err
	}
	metrics.ChecksStarted.Inc()
	res, ok, err := r.runAndRead(ctx, p, wire.KindCheck, req)
	if err != nil || !ok {
		return false, err
	}
	if c.Resource == "" && c.ResourceType != "" { // fly check-resource-type
		err = r.e.store.SaveTypeVersions(ctx, r.build.PipelineID, c.ResourceType, c.Source, res.Versions)
		return err == nil, err
	}
	_, err = r.saveVersions(ctx, c.Resource, res.Versions, nil)
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
		if err := r.typeImage(ctx, &check, g.Image); err != nil {
			return nil, err
		}
		out, err := r.runStep(ctx, p.ID+"/check", 1, implicitCheck, check)
		if err != nil {
			return nil, err
		}
		if out.Error != "" || out.ExitStatus != 0 {
			return nil, fmt.Errorf("check of resource %s failed: %s", g.Resource, out.Error)
		}
		if _, err := r.saveVersions(ctx, g.Resource, out.Versions, nil); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("resource %s has no versions: give it one with fly check-resource -r %s/%s", g.Resource, r.build.PipelineName, g.Resource)
}

// saveVersions saves versions of a resource of the build's pipeline and
// returns the resource's id.
func (r *run) saveVersions(ctx context.Context, resource string, versions []map[string]string, metadata []json.RawMessage) (int64, error) {
	res, err := r.e.store.ResourceByName(ctx, r.build.PipelineID, resource)
	if err != nil || len(versions) == 0 {
		return res.ID, err
	}
	if err := r.e.store.SaveVersions(ctx, res.ID, versions, metadata); err != nil {
		return res.ID, err
	}
	r.e.WakeScheduler()
	return res.ID, nil
}

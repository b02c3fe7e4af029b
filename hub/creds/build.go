package creds

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/switchyard-ci/switchyard/hub/store"
)

// ForBuild makes the resolver of a build, reading its trust and its
// pipeline's var_sources. A one-off build without a pipeline is trusted and
// has no var sources.
func (reg *Registry) ForBuild(ctx context.Context, st *store.Store, b store.Build) (*Resolver, error) {
	scope := Scope{Team: b.TeamName, Pipeline: b.PipelineName, Job: b.JobName, InstanceVars: b.InstanceVars, BuildID: b.ID}
	if b.PipelineID == 0 {
		return reg.Resolver(scope, true, nil)
	}
	trusted, raw, err := st.BuildVarContext(ctx, b.PipelineID, b.JobID)
	if err != nil {
		return nil, err
	}
	var sources []VarSource
	if err := json.Unmarshal(raw, &sources); err != nil {
		return nil, fmt.Errorf("read var_sources of pipeline %s: %w", b.PipelineName, err)
	}
	return reg.Resolver(scope, trusted, sources)
}

package server

import (
	"context"
	"fmt"

	"github.com/switchyard-ci/switchyard/hub/creds"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/vars"
)

// checkCreds resolves every ((var)) left in a config (set-pipeline
// --check-creds) against its var sources and the credential manager, and
// says which resolve from nothing. The values are dropped at once; build-local
// vars (((.:name))) are skipped, since only a build has them.
func (s *Server) checkCreds(ctx context.Context, team, name string, p *pipeline.Pipeline) error {
	var sources []creds.VarSource
	for _, vs := range p.Config.VarSources {
		sources = append(sources, creds.VarSource{Name: vs.Name, Type: vs.Type, Config: vs.Config})
	}
	res, err := s.cfg.Creds.Resolver(creds.Scope{Team: team, Pipeline: name}, true, sources)
	if err != nil {
		return err
	}
	var refs []any
	for _, ref := range p.Vars {
		if ref.Source == "." || len(ref.Path) == 0 {
			continue
		}
		r := vars.Ref{Source: ref.Source, Path: ref.Path[0], Fields: ref.Path[1:]}
		refs = append(refs, "(("+r.String()+"))")
	}
	_, err = vars.Interpolate(ctx, refs, res)
	return err
}

// webhookToken resolves a resource's webhook_token that names vars.
func (s *Server) webhookToken(ctx context.Context, p store.Pipeline, token string) (string, error) {
	res, err := s.cfg.Creds.ForBuild(ctx, s.store, store.Build{TeamName: p.TeamName, PipelineID: p.ID, PipelineName: p.Name, InstanceVars: p.InstanceVars})
	if err != nil {
		return "", err
	}
	v, err := vars.Interpolate(ctx, token, res)
	if err != nil {
		return "", err
	}
	text, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("webhook_token is not text")
	}
	return text, nil
}

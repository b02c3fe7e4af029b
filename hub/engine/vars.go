package engine

import (
	"context"

	"github.com/switchyard-ci/switchyard/hub/creds"
	"github.com/switchyard-ci/switchyard/wire"
)

// The build's ((vars)): a step's are resolved before it is placed, so one
// that nothing defines (or a secret an untrusted build asks for) errors the
// step before anything reaches a spoke. The step is stored with its
// ((vars)) as written; the gateway hands the resolved request to the spoke.

func (r *run) vars(ctx context.Context) (*creds.Resolver, error) {
	r.mu.Lock()
	res := r.resolver
	r.mu.Unlock()
	if res != nil {
		return res, nil
	}
	res, err := r.e.creds.ForBuild(ctx, r.e.store, r.build)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.resolver == nil {
		r.resolver = res
	}
	return r.resolver, nil
}

// resolve fills in a step request's vars.
func (r *run) resolve(ctx context.Context, req wire.StepRequest) (creds.Resolved, error) {
	res, err := r.vars(ctx)
	if err != nil {
		return creds.Resolved{}, err
	}
	return creds.ResolveRequest(ctx, res, req)
}

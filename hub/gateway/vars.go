package gateway

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/switchyard-ci/switchyard/hub/creds"
	"github.com/switchyard-ci/switchyard/hub/steptrace"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/wire"
)

// resolve fills in the ((vars)) of a step handed to its spoke: the engine of
// this process left them ready, or they are looked up again (the step was
// placed by another replica, or before a restart). The values travel in this
// answer only; the store keeps the step as written. A var that does not
// resolve is the step's error (varErr); err is the hub's own trouble, for
// the spoke to ask again.
func (g *Gateway) resolve(ctx context.Context, st store.Step, req wire.StepRequest) (_ creds.Resolved, varErr, err error) {
	if res, ok := g.creds.Take(st.ID); ok {
		return res, nil, nil
	}
	b, err := g.store.Build(ctx, st.BuildID)
	if err != nil {
		return creds.Resolved{}, nil, err
	}
	res, err := g.creds.ForBuild(ctx, g.store, b)
	if err != nil {
		return creds.Resolved{}, nil, err
	}
	resolved, varErr := creds.ResolveRequest(ctx, res, req)
	return resolved, varErr, nil
}

// errorStep ends a step the spoke cannot be given, with why.
func (g *Gateway) errorStep(ctx context.Context, st store.Step, why error) {
	res := wire.Result{Fence: st.Fence, Error: why.Error()}
	raw, _ := json.Marshal(res)
	rep := store.StepReport{StepID: st.ID, SpokeID: st.SpokeID, Fence: st.Fence}
	end := &store.StepEnd{State: store.StepErrored, Result: raw, Event: finishEvent(st, res)}
	stored, err := g.store.ReportStep(ctx, rep, nil, store.Event{}, end)
	if err != nil {
		g.log.ErrorContext(ctx, "error a step whose vars did not resolve", slog.Int64("build_id", st.BuildID), slog.Int64("step_id", st.ID), slog.String("error", err.Error()))
		return
	}
	steptrace.End(ctx, st, "", res, false)
	g.ended(st, end, stored)
}

package gateway

import (
	"context"
	"sync"

	"github.com/switchyard-ci/switchyard/hub/store"
)

// assigned keeps the steps this replica handed to spokes, as it read them,
// so that their reports need not read them again. What is used of them (the
// build, plan id, kind, run and request) never changes; whose report it is
// is checked by the store, in the report's transaction, against the step's
// spoke and fence.
type assigned struct {
	mu    sync.Mutex
	steps map[int64]store.Step
}

// maxAssigned bounds what is kept: past it, everything is dropped and
// reports read their steps again.
const maxAssigned = 10_000

func (a *assigned) put(st store.Step) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.steps == nil || len(a.steps) >= maxAssigned {
		a.steps = map[int64]store.Step{}
	}
	a.steps[st.ID] = st
}

func (a *assigned) drop(id int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.steps, id)
}

// step is the step as it was handed out, or as the store has it.
func (g *Gateway) step(ctx context.Context, id int64) (store.Step, error) {
	g.assigned.mu.Lock()
	st, ok := g.assigned.steps[id]
	g.assigned.mu.Unlock()
	if ok {
		return st, nil
	}
	return g.store.Step(ctx, id)
}

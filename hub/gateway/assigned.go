package gateway

import (
	"context"
	"sync"
	"time"

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

// credentials keeps the spokes that showed a credential lately, so that a
// spoke's calls (several per step) do not each read its row. An entry lasts
// credentialTTL: a credential replaced by a new join (on any replica) or a
// spoke retired stops working within that, and at once on the replica that
// saw the join. Only credentials the store knew are kept: unknown ones
// cost a read each time, and cannot fill the cache.
type credentials struct {
	mu      sync.Mutex
	entries map[string]credential
}

type credential struct {
	spoke store.Spoke
	until time.Time
}

const (
	credentialTTL  = 2 * time.Second
	maxCredentials = 1024
)

func (c *credentials) get(hash string) (store.Spoke, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if !ok || time.Now().After(e.until) {
		return store.Spoke{}, false
	}
	return e.spoke, true
}

func (c *credentials) put(hash string, sp store.Spoke) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxCredentials {
		c.entries = map[string]credential{}
	}
	c.entries[hash] = credential{spoke: sp, until: time.Now().Add(credentialTTL)}
}

// forget drops the entries of a spoke (it joined again, with a new credential).
func (c *credentials) forget(spokeID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, e := range c.entries {
		if e.spoke.ID == spokeID {
			delete(c.entries, h)
		}
	}
}

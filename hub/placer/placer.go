// Package placer keeps the policies in force, reloaded on every hub replica
// when their generation changes, and asks them: where a build goes (with
// package placement, over a snapshot of the spokes) and whether an action is
// admitted (admission.go).
package placer

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"

	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/placement"
	"github.com/switchyard-ci/switchyard/policy"
)

// Placer is safe for concurrent use.
type Placer struct {
	store *store.Store
	log   *slog.Logger
	lim   policy.Limits

	// Reads shared by the placements that ask at once (fresh.go).
	loads fresh[[]store.SpokeLoad]
	gens  fresh[int64]

	mu       sync.Mutex
	gen      int64
	loaded   map[int64]loadedPolicy // by policy version id
	inForce  []store.Policy
	quotas   map[int64]store.TeamQuota // the teams' fleet quotas, read with the policies
	reloadMu sync.Mutex
}

type loadedPolicy struct {
	p   policy.Policy
	err error
}

// New makes a placer; lim bounds every policy.
func New(st *store.Store, lim policy.Limits, log *slog.Logger) *Placer {
	p := &Placer{store: st, lim: lim, log: log, gen: -1, loaded: map[int64]loadedPolicy{}}
	p.loads.read, p.gens.read = st.SpokeLoads, st.PolicyGeneration
	return p
}

// Limits are the bounds of every policy the placer runs; an upload is
// checked under the same.
func (p *Placer) Limits() policy.Limits { return p.lim }

// inForcePolicy is a loaded policy in force for a team.
type inForcePolicy struct {
	name     string // team policies by name, global ones as global/NAME
	p        policy.Policy
	onError  string
	warnOnly bool
}

// policiesFor lists the policies in force for a team: the global ones, then
// the team's. A policy that no longer loads (a hub of another version) fails
// every evaluation, which its on_error handles.
func (p *Placer) policiesFor(ctx context.Context, teamID int64) ([]inForcePolicy, error) {
	if err := p.refresh(ctx); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []inForcePolicy
	for _, sp := range p.inForce {
		if sp.TeamID != 0 && sp.TeamID != teamID {
			continue
		}
		lp := p.loaded[sp.ID]
		pol := lp.p
		if lp.err != nil {
			pol = broken{lp.err}
		}
		name := sp.Name
		if sp.TeamID == 0 {
			name = "global/" + name
		}
		out = append(out, inForcePolicy{name: name, p: pol, onError: sp.OnError, warnOnly: sp.WarnOnly})
	}
	return out, nil
}

// refresh reloads the policies (and the teams' fleet quotas) when their
// generation moved. It asks at every
// placement (one read of one row, shared by the placements that ask at
// once), so a policy set on any replica is in force for the next placement
// on every replica; only a reload is done one at a time.
func (p *Placer) refresh(ctx context.Context) error {
	gen, err := p.gens.get(ctx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	same := gen == p.gen
	p.mu.Unlock()
	if same {
		return nil
	}
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	p.mu.Lock()
	same = gen <= p.gen // another placement reloaded meanwhile
	p.mu.Unlock()
	if same {
		return nil
	}
	list, err := p.store.ActivePolicies(ctx)
	if err != nil {
		return err
	}
	quotas, err := p.store.TeamQuotas(ctx)
	if err != nil {
		return err
	}
	loaded := map[int64]loadedPolicy{}
	p.mu.Lock()
	for id, lp := range p.loaded {
		loaded[id] = lp
	}
	p.mu.Unlock()
	keep := map[int64]bool{}
	for _, sp := range list {
		keep[sp.ID] = true
		if _, ok := loaded[sp.ID]; ok {
			continue
		}
		pol, err := policy.Load(ctx, sp.Name, sp.Source, p.lim)
		if err != nil {
			p.log.Error("load policy", slog.String("policy", sp.Name), slog.Int("version", sp.Version), slog.String("error", err.Error()))
		}
		loaded[sp.ID] = loadedPolicy{p: pol, err: err}
	}
	for id, lp := range loaded {
		if !keep[id] {
			if lp.p != nil {
				_ = lp.p.Close(context.Background())
			}
			delete(loaded, id)
		}
	}
	p.mu.Lock()
	p.gen, p.loaded, p.inForce, p.quotas = gen, loaded, list, quotas
	p.mu.Unlock()
	p.log.Info("policies loaded", slog.Int64("generation", gen), slog.Int("policies", len(list)))
	return nil
}

// broken stands for a policy that failed to load.
type broken struct{ err error }

func (b broken) Eval(context.Context, []byte) ([]byte, error) { return nil, b.err }
func (b broken) Engine() string                               { return "broken" }
func (b broken) Close(context.Context) error                  { return nil }

// Snapshot is the spokes as placement sees them, with their open steps, and
// the stored spokes by name: one query, shared by the placements that ask
// at once, each of which gets its own copy.
func (p *Placer) Snapshot(ctx context.Context) ([]placement.Spoke, map[string]store.Spoke, error) {
	spokes, err := p.loads.get(ctx)
	if err != nil {
		return nil, nil, err
	}
	out := make([]placement.Spoke, 0, len(spokes))
	byName := make(map[string]store.Spoke, len(spokes))
	for _, sp := range spokes {
		byName[sp.Name] = sp.Spoke
		ps := placement.Spoke{Name: sp.Name, Team: sp.TeamName, Labels: map[string]string{}, Tags: append([]string{}, sp.Tags...),
			Health: "healthy", CachedVolumes: []string{}, Load: placement.Resources{Steps: sp.Load.Steps, CPU: sp.Load.CPU, Memory: sp.Load.Memory}}
		if sp.TeamID == 0 {
			ps.Pool = "shared"
		}
		switch state := sp.WorkerState(); state {
		case store.SpokeStalled:
			ps.Health = "unknown"
		case store.SpokeLanding, store.SpokeLanded, store.SpokeRetiring:
			ps.Health = state
		}
		_ = json.Unmarshal(sp.Labels, &ps.Labels)
		_ = json.Unmarshal(sp.Capacity, &ps.Capacity)
		out = append(out, ps)
	}
	return out, byName, nil
}

// Policies are the placement policies in force for a team, for
// placement.Decide.
func (p *Placer) Policies(ctx context.Context, teamID int64) ([]placement.Policy, error) {
	inForce, err := p.policiesFor(ctx, teamID)
	if err != nil {
		return nil, err
	}
	policies := make([]placement.Policy, len(inForce))
	for i, pol := range inForce {
		policies[i] = placement.Policy{Name: pol.name, Policy: observe(pol.name, pol.p), OnError: pol.onError}
	}
	return policies, nil
}

// TeamQuota is a team's fleet quota as of the last refresh, which each
// placement makes first (Policies); quotas move the same generation.
func (p *Placer) TeamQuota(teamID int64) store.TeamQuota {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.quotas[teamID]
}

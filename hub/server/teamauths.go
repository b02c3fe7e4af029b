package server

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/store"
)

// teamAuths keeps the teams' auth that every authenticated request reads to
// find the caller's roles, as Concourse's API caches teams: read again once
// older than staleness (another replica's set-team applies here within
// RevocationStaleness, as a token revoked there does), and at once after
// this replica changes a team. Requests that find it stale together share
// one read.
type teamAuths struct {
	store     *store.Store
	staleness time.Duration

	mu      sync.Mutex
	teams   []teamAuth
	at      time.Time     // when the read of teams began
	gen     uint64        // moved on by forget: a read that began before is not kept
	reading chan struct{} // closed when the read under way ends; nil: none
}

// teamAuth is a team's name and auth.
type teamAuth struct {
	name string
	auth api.TeamAuth
}

// get returns every team's auth, no older than staleness.
func (t *teamAuths) get(ctx context.Context) ([]teamAuth, error) {
	for {
		t.mu.Lock()
		if t.teams != nil && time.Since(t.at) < t.staleness {
			teams := t.teams
			t.mu.Unlock()
			return teams, nil
		}
		if wait := t.reading; wait != nil {
			t.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done, gen, began := make(chan struct{}), t.gen, time.Now()
		t.reading = done
		t.mu.Unlock()
		teams, err := t.read(ctx)
		t.mu.Lock()
		t.reading = nil
		close(done)
		if err == nil && t.gen == gen {
			t.teams, t.at = teams, began
		}
		t.mu.Unlock()
		return teams, err
	}
}

func (t *teamAuths) read(ctx context.Context) ([]teamAuth, error) {
	stored, err := t.store.Teams(ctx)
	if err != nil {
		return nil, err
	}
	teams := make([]teamAuth, len(stored))
	for i, st := range stored {
		teams[i].name = st.Name
		_ = json.Unmarshal(st.Auth, &teams[i].auth) // a team whose auth does not decode grants nothing
	}
	return teams, nil
}

// forget drops what was read: this replica changed a team.
func (t *teamAuths) forget() {
	t.mu.Lock()
	t.teams = nil
	t.gen++
	t.mu.Unlock()
}

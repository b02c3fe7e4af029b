package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
)

// A spoke's identity is bound to the credential it was first given: a join
// under a name in use never takes the row, its team or its steps without it.
func TestRegisterSpokeBindsTheNameToItsCredential(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	blue, err := s.SaveTeam(ctx, "blue", nil)
	if err != nil {
		t.Fatal(err)
	}
	red, err := s.SaveTeam(ctx, "red", nil)
	if err != nil {
		t.Fatal(err)
	}
	join := func(name string, team int64, hash, previous string, ttl time.Duration) (store.SpokeJoin, error) {
		return s.RegisterSpoke(ctx, store.SpokeRegistration{Name: name, TeamID: team, Runtime: "local", CredentialHash: hash, PreviousHash: previous}, ttl)
	}
	first, err := join("shared", 0, "h1", "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := join("blue-1", blue.ID, "b1", "", time.Minute); err != nil {
		t.Fatal(err)
	}

	refused := []struct {
		name, previous string
		team           int64
	}{
		{"shared", "", red.ID},    // another team's token, the pool's name
		{"shared", "", 0},         // the pool's own token, without the credential
		{"shared", "wrong", 0},    // a wrong credential
		{"shared", "h1", red.ID},  // the right credential never moves the name to a team
		{"blue-1", "", red.ID},    // another team's spoke
		{"blue-1", "b1", 0},       // to the pool
		{"blue-1", "", blue.ID},   // its own team, but live and without the credential
		{"blue-1", "h1", blue.ID}, // another spoke's credential
	}
	for _, c := range refused {
		_, err := join(c.name, c.team, "attacker", c.previous, time.Minute)
		if !errors.Is(err, store.ErrSpokeNameTaken) {
			t.Errorf("join %s (team %d, previous %q): got %v, want ErrSpokeNameTaken", c.name, c.team, c.previous, err)
		}
	}
	if _, err := s.SpokeByCredentialHash(ctx, "attacker"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused join's credential reaches a spoke: %v", err)
	}

	// Coming back with its credential keeps the row and rotates the credential.
	back, err := join("shared", 0, "h2", "h1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if back.Spoke.ID != first.Spoke.ID || back.Replaced != 0 {
		t.Fatalf("rejoin: got spoke %d (replaced %d), want %d", back.Spoke.ID, back.Replaced, first.Spoke.ID)
	}
	if _, err := s.SpokeByCredentialHash(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the old credential still works after a rejoin: %v", err)
	}

	// A spoke of the same team whose lease expired may be replaced by a new
	// identity; the old row keeps its id (and its steps) and its credential
	// stops working.
	gone, err := join("blue-2", blue.ID, "g1", "", time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	fresh, err := join("blue-2", blue.ID, "g2", "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Spoke.ID == gone.Spoke.ID || fresh.Replaced != gone.Spoke.ID {
		t.Fatalf("new identity: got spoke %d replacing %d, want a new spoke replacing %d", fresh.Spoke.ID, fresh.Replaced, gone.Spoke.ID)
	}
	if _, err := s.SpokeByCredentialHash(ctx, "g1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a replaced spoke's credential still works: %v", err)
	}
	spokes, err := s.Spokes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sp := range spokes {
		names = append(names, sp.Name)
	}
	if len(names) != 3 || names[0] != "blue-1" || names[1] != "blue-2" || names[2] != "shared" {
		t.Fatalf("spokes: got %v, want [blue-1 blue-2 shared] (gone ones left out)", names)
	}
	for _, sp := range spokes {
		if sp.Name == "blue-1" && (sp.TeamID != blue.ID || sp.CredentialHash != "b1") {
			t.Fatalf("blue-1 changed hands: team %d, credential %q", sp.TeamID, sp.CredentialHash)
		}
	}
}

package auth

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchyard-ci/switchyard/api"
)

func TestTokens(t *testing.T) {
	s := Signer{Key: []byte("k1")}
	now := time.Unix(1_700_000_000, 0)
	tok := s.Issue("alice", now, time.Hour)
	c, err := s.Verify(tok, now.Add(time.Minute))
	if err != nil || c.User != "alice" {
		t.Fatalf("verify: %+v %v", c, err)
	}
	if _, err := s.Verify(tok, now.Add(2*time.Hour)); err == nil {
		t.Error("expired token accepted")
	}
	if _, err := (Signer{Key: []byte("k2")}).Verify(tok, now); err == nil {
		t.Error("token signed with another key accepted")
	}
	for _, bad := range []string{"", "x", tok + "x", "e30." + tok[len(tok)-43:]} {
		if _, err := s.Verify(bad, now); err == nil {
			t.Errorf("bad token %q accepted", bad)
		}
	}
}

func TestUsers(t *testing.T) {
	u := Users{}
	if err := u.Add("admin:s3cret:with:colons"); err != nil {
		t.Fatal(err)
	}
	if err := u.Add("nopassword"); err == nil {
		t.Error("user without password accepted")
	}
	if !u.Check("admin", "s3cret:with:colons") || u.Check("admin", "s3cret") || u.Check("bob", "") {
		t.Error("password check wrong")
	}
}

func TestRoles(t *testing.T) {
	auth := api.TeamAuth{
		"owner":  {Users: []string{"local:Admin"}},
		"member": {Users: []string{"local:bob"}},
		"viewer": {},
	}
	if diff := cmp.Diff([]string{"owner", "viewer"}, Roles(auth, "local", "admin")); diff != "" {
		t.Error(diff)
	}
	if got := Highest(Roles(auth, "local", "bob")); got != Member {
		t.Errorf("bob: %v", got)
	}
	if got := Highest(Roles(auth, "local", "eve")); got != Viewer {
		t.Errorf("eve (everyone is a viewer): %v", got)
	}
	if Highest(nil) != NoRole {
		t.Error("no roles is not NoRole")
	}
}

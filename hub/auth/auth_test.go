package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchyard-ci/switchyard/api"
)

func TestTokens(t *testing.T) {
	exp := time.Unix(1_800_000_000, 0)
	a, err := NewToken(exp)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewToken(exp)
	if a == b || len(a) != 38 || TokenHash(a) == TokenHash(b) {
		t.Errorf("tokens %q and %q", a, b)
	}
	if got, err := TokenExpiry(a); err != nil || !got.Equal(exp) {
		t.Errorf("expiry %v, %v", got, err)
	}
	for _, bad := range []string{"", "x", a + "A", a[:20], "!!!!", strings.Repeat("A", 4000)} {
		if _, err := TokenExpiry(bad); err == nil {
			t.Errorf("%q decoded", bad)
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
	groups := api.TeamAuth{"member": {Groups: []string{"oidc:Platform"}}, "owner": {Users: []string{"oidc:root"}}}
	if got := Highest(Roles(groups, "oidc", "alice", "dev", "platform")); got != Member {
		t.Errorf("a member by group: %v", got)
	}
	if got := Highest(Roles(groups, "local", "alice", "platform")); got != NoRole {
		t.Errorf("a local user matched an oidc group: %v", got)
	}
	if got := Highest(Roles(auth, "local", "eve")); got != Viewer {
		t.Errorf("eve (everyone is a viewer): %v", got)
	}
	if Highest(nil) != NoRole {
		t.Error("no roles is not NoRole")
	}
}

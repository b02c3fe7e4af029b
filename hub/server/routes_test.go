package server

import (
	"strings"
	"testing"
)

// Every route declares the access it needs. A new route without one fails here
// (and New refuses to start with it).
func TestEveryRouteDeclaresAccess(t *testing.T) {
	s := &Server{}
	routes := s.routes()
	if len(routes) < 30 {
		t.Fatalf("only %d routes: is the table complete?", len(routes))
	}
	seen := map[string]bool{}
	for _, r := range routes {
		key := r.method + " " + r.path
		if r.access.kind == undeclared {
			t.Errorf("%s declares no access", key)
		}
		if r.access.kind == team && r.access.role == 0 {
			t.Errorf("%s needs a team role but names none", key)
		}
		if seen[key] {
			t.Errorf("%s is declared twice", key)
		}
		seen[key] = true
		// Writes never go to anonymous callers, except the token grant and
		// the login form, which authenticate with what they carry.
		if r.method != "GET" && r.access.kind == anonymous && r.path != "/sky/issuer/token" && r.path != "/sky/login" {
			t.Errorf("%s is a write open to anyone", key)
		}
		// The spoke API is package gateway's, behind spoke credentials.
		if strings.HasPrefix(r.path, "/api/spoke/") {
			t.Errorf("%s is a spoke route in the user API", key)
		}
	}
}

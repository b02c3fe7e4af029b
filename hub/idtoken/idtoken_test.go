package idtoken

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/switchyard-ci/switchyard/hub/creds"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
	"github.com/switchyard-ci/switchyard/vars"
)

func issuer(t *testing.T) (*Issuer, string) {
	t.Helper()
	i := &Issuer{Store: storetest.New(t), RSABits: 2048, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv := httptest.NewServer(i.Handler())
	t.Cleanup(srv.Close)
	i.URL = srv.URL
	return i, srv.URL
}

// A token from an idtoken var source verifies with go-oidc against the hub's
// discovery document and key set, with Concourse's claims; after the keys
// rotate, a token signed before still verifies, and a new one is signed by
// the new key.
func TestTokenVerifiesWithOIDC(t *testing.T) {
	ctx := context.Background()
	i, url := issuer(t)
	reg := &creds.Registry{IDToken: i.NewSource}
	scope := creds.Scope{Team: "main", Pipeline: "deploy", Job: "ship", InstanceVars: `{"branch":"feature/x"}`}
	for _, alg := range []string{"RS256", "ES256"} {
		r, err := reg.Resolver(scope, true, []creds.VarSource{{Name: "oidc", Type: "idtoken",
			Config: map[string]any{"audience": []any{"sts.example.com"}, "subject_scope": "job", "expires_in": "15m", "algorithm": alg}}})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := vars.Interpolate(ctx, "((oidc:token))", r)
		if err != nil {
			t.Fatal(err)
		}
		provider, err := oidc.NewProvider(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		verifier := provider.Verifier(&oidc.Config{ClientID: "sts.example.com", SupportedSigningAlgs: []string{alg}})
		id, err := verifier.Verify(ctx, tok.(string))
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		var claims struct {
			Team, Pipeline, Job string
			InstanceVars        string `json:"instance_vars"`
		}
		if err := id.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		if id.Subject != "main/deploy/branch:feature%2Fx/ship" || claims.Team != "main" || claims.Pipeline != "deploy" || claims.Job != "ship" ||
			claims.InstanceVars != "branch:feature/x" || id.Expiry.Sub(id.IssuedAt) != 15*time.Minute {
			t.Errorf("%s: subject %q, claims %+v, lifetime %s", alg, id.Subject, claims, id.Expiry.Sub(id.IssuedAt))
		}
		if !slices.Contains(r.Secrets(), tok.(string)) {
			t.Errorf("%s: the token is not redacted", alg)
		}
		// Rotation keeps the old key published while tokens it signed can live.
		before := i.KeySet()
		i.RotationPeriod = time.Nanosecond
		if err := i.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		i.RotationPeriod = 0
		after := i.KeySet()
		if len(after.Keys) != len(before.Keys)+2 {
			t.Errorf("%s: %d keys before rotating, %d after", alg, len(before.Keys), len(after.Keys))
		}
		if _, err := oidc.NewProvider(ctx, url); err != nil {
			t.Fatal(err)
		}
		if _, err := verifier.Verify(ctx, tok.(string)); err != nil {
			t.Errorf("%s: a token signed before the rotation no longer verifies: %v", alg, err)
		}
		fresh, err := vars.Interpolate(ctx, "((oidc:token))", r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verifier.Verify(ctx, fresh.(string)); err != nil {
			t.Errorf("%s: a token signed by the new key: %v", alg, err)
		}
	}
	// Past the grace period only the newest key of each kind is kept.
	i.GracePeriod = time.Nanosecond
	if err := i.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(i.KeySet().Keys); n != 2 {
		t.Errorf("%d keys after the grace period, want 2", n)
	}
}

func TestConfigErrors(t *testing.T) {
	i, _ := issuer(t)
	for _, c := range []struct {
		config map[string]any
		want   string
	}{
		{map[string]any{"audience": "x"}, "audience must be a list of strings"},
		{map[string]any{"subject_scope": "world"}, "invalid subject_scope value: world"},
		{map[string]any{"expires_in": "48h"}, "expires_in must be <= 24h0m0s"},
		{map[string]any{"algorithm": "HS256"}, "use RS256 or ES256"},
		{map[string]any{"nope": 1}, "invalid idtoken provider config: unknown setting: nope"},
		{nil, "config is required"},
	} {
		if _, err := i.NewSource(c.config); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want %q", c.config, err, c.want)
		}
	}
	src, _ := i.NewSource(map[string]any{})
	if _, _, err := src.Get(context.Background(), creds.Scope{Team: "t"}, "password"); err == nil || !strings.Contains(err.Error(), "only supports the field 'token'") {
		t.Errorf("a name other than token: %v", err)
	}
}

func TestSubject(t *testing.T) {
	sc := creds.Scope{Team: "a/b", Pipeline: "p", Job: "j", InstanceVars: `{"x":{"y":1},"a":"b"}`}
	for scope, want := range map[string]string{"team": "a%2Fb", "pipeline": "a%2Fb/p", "instance": "a%2Fb/p/a:b,x.y:1", "job": "a%2Fb/p/a:b,x.y:1/j"} {
		if got := Subject(sc, scope); got != want {
			t.Errorf("%s: %q, want %q", scope, got, want)
		}
	}
}

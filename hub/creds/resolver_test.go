package creds

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchyard-ci/switchyard/vars"
	"github.com/switchyard-ci/switchyard/wire"
)

func interpolate(t *testing.T, r *Resolver, in any) (any, error) {
	t.Helper()
	return vars.Interpolate(context.Background(), in, r)
}

func TestResolverOrder(t *testing.T) {
	reg := &Registry{Cluster: Dummy{"main/p/name": "pipeline-scoped", "main/name": "team-scoped", "shared": "bare", "main/x": "cluster-x"}}
	scope := Scope{Team: "main", Pipeline: "p", Job: "j"}
	sources := []VarSource{
		{Name: "src", Type: "dummy", Config: map[string]any{"vars": map[string]any{"x": "from-src", "main/p/y": "src-pipeline-y"}}},
		{Name: "derived", Type: "dummy", Config: map[string]any{"vars": map[string]any{"z": "z-is-((src:x))"}}},
	}
	r, err := reg.Resolver(scope, true, sources)
	if err != nil {
		t.Fatal(err)
	}
	r.SetLocal("loaded", "local-value", false)
	got, err := interpolate(t, r, map[string]any{
		"name": "((name))", "bare": "((shared))", "src": "((src:x))", "srcPath": "((src:y))", "derived": "((derived:z))",
		"local": "((.:loaded))", "localFallback": "((.:x))",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"name": "pipeline-scoped", "bare": "bare", "src": "from-src", "srcPath": "src-pipeline-y", "derived": "z-is-from-src",
		"local": "local-value", "localFallback": "cluster-x"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Unqualified names never reach var sources; declared sources have no fallback.
	if _, err := interpolate(t, r, "((y))"); !vars.IsUndefined(err) {
		t.Errorf("((y)) reached a var source: %v", err)
	}
	if _, err := interpolate(t, r, "((other:x))"); err == nil || err.Error() != "missing source 'other' in var: other:x" {
		t.Errorf("undeclared source: %v", err)
	}
	secrets := r.Secrets()
	for _, s := range []string{"pipeline-scoped", "from-src", "z-is-from-src", "cluster-x"} {
		if !slices.Contains(secrets, s) {
			t.Errorf("secrets %q lack %q", secrets, s)
		}
	}
	if slices.Contains(secrets, "local-value") {
		t.Errorf("a local var counted as a secret: %q", secrets)
	}

	// Without var_sources, a source prefix is ignored.
	plain, _ := reg.Resolver(scope, true, nil)
	if got, err := interpolate(t, plain, "((anything:shared))"); err != nil || got != "bare" {
		t.Errorf("prefix without var_sources: %v, %v", got, err)
	}
}

func TestResolverRefusals(t *testing.T) {
	reg := &Registry{Cluster: Dummy{"main/token": "t", "blue/token": "blue-t"}}
	scope := Scope{Team: "main", Pipeline: "p", Job: "j"}

	untrusted, _ := reg.Resolver(scope, false, []VarSource{{Name: "src", Type: "dummy", Config: map[string]any{"vars": map[string]any{"x": "1"}}}})
	for _, ref := range []string{"((token))", "((src:x))", "((.:token))"} {
		var u *UntrustedError
		if _, err := interpolate(t, untrusted, ref); !errors.As(err, &u) || !strings.Contains(err.Error(), "move the step to a trusted job") {
			t.Errorf("untrusted %s: %v", ref, err)
		}
	}
	if len(untrusted.Secrets()) != 0 {
		t.Errorf("an untrusted build was handed %q", untrusted.Secrets())
	}

	r, _ := reg.Resolver(scope, true, nil)
	for ref, want := range map[string]string{
		"((blue/token))":       "cannot hold '/'",
		`(("../blue/token"))`:  "cannot hold '/'",
		"((../token))":         "empty field",
		"((token.field))":      "cannot access field 'field' of non-map value",
		"((token)) ((nope.a))": "undefined vars: nope.a",
	} {
		if _, err := interpolate(t, r, ref); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", ref, err, want)
		}
	}

	for _, c := range []struct {
		sources []VarSource
		want    string
	}{
		{[]VarSource{{Name: "a", Type: "dummy", Config: map[string]any{"vars": map[string]any{"x": "((b:y))"}}},
			{Name: "b", Type: "dummy", Config: map[string]any{"vars": map[string]any{"y": "((a:x))"}}}},
			"could not resolve inter-dependent var sources: a, b"},
		{[]VarSource{{Name: "a", Type: "dummy"}, {Name: "a", Type: "dummy"}}, "appears more than once"},
	} {
		if _, err := reg.Resolver(scope, true, c.sources); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	for _, c := range []struct {
		source VarSource
		want   string
	}{
		{VarSource{Name: "v", Type: "vault", Config: map[string]any{}}, "evaluate var_source 'v' error: credential manager type vault is not supported by Switchyard yet"},
		{VarSource{Name: "v", Type: "nope", Config: map[string]any{}}, "unknown credential manager type: nope"},
		{VarSource{Name: "v", Type: "dummy", Config: map[string]any{"vars": "x"}}, "invalid vars config: string"},
		{VarSource{Name: "v", Type: "kubernetes", Config: map[string]any{"namespace": "x"}}, "this hub reads no kubernetes secrets"},
		{VarSource{Name: "v", Type: "dummy", Config: map[string]any{"vars": "((undefined-in-config))"}}, "evaluate var_source 'v' error: undefined vars: undefined-in-config"},
	} {
		r, err := reg.Resolver(scope, true, []VarSource{c.source})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := interpolate(t, r, "((v:x))"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.source.Type, err, c.want)
		}
	}
}

// countingSource counts lookups: the narrow seam the cache sits on.
type countingSource struct {
	n     atomic.Int64
	value string
}

func (c *countingSource) Get(context.Context, Scope, string) (any, bool, error) {
	c.n.Add(1)
	return c.value, c.value != "", nil
}

func TestCache(t *testing.T) {
	src := &countingSource{value: "v"}
	c := &Cached{Source: src, TTL: time.Hour, NotFoundTTL: time.Hour}
	a, b := Scope{Team: "a", Pipeline: "p"}, Scope{Team: "b", Pipeline: "p"}
	for range 3 {
		if v, ok, err := c.Get(context.Background(), a, "x"); err != nil || !ok || v != "v" {
			t.Fatalf("got %v %v %v", v, ok, err)
		}
	}
	if n := src.n.Load(); n != 1 {
		t.Errorf("%d lookups for one cached name, want 1", n)
	}
	_, _, _ = c.Get(context.Background(), b, "x")
	if n := src.n.Load(); n != 2 {
		t.Errorf("team b was served team a's cached answer (%d lookups)", n)
	}
	off := &Cached{Source: src}
	_, _, _ = off.Get(context.Background(), a, "x")
	_, _, _ = off.Get(context.Background(), a, "x")
	if n := src.n.Load(); n != 4 {
		t.Errorf("a cache with no TTL kept an answer (%d lookups, want 4)", n)
	}
}

// barrierSource answers only once two lookups are in flight at once.
type barrierSource struct {
	arrived chan struct{}
	both    chan struct{}
	once    sync.Once
}

func (b *barrierSource) Get(ctx context.Context, _ Scope, name string) (any, bool, error) {
	select {
	case b.arrived <- struct{}{}:
	default:
		b.once.Do(func() { close(b.both) })
	}
	select {
	case <-b.both:
		return "v-" + name, true, nil
	case <-time.After(10 * time.Second):
		return nil, false, errors.New("lookups ran one at a time")
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

// A step's secrets are looked up at once, not one after another.
func TestResolveRequestLooksUpAtOnce(t *testing.T) {
	src := &barrierSource{arrived: make(chan struct{}, 1), both: make(chan struct{})}
	r, _ := (&Registry{Cluster: src}).Resolver(Scope{Team: "t"}, true, nil)
	res, err := ResolveRequest(context.Background(), r, wire.StepRequest{Kind: wire.KindTask,
		Task: &wire.TaskRequest{Params: map[string]string{"A": "((a))", "B": "((b))"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Request.Task.Params; got["A"] != "v-a" || got["B"] != "v-b" {
		t.Errorf("params %v", got)
	}
}

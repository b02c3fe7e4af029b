package creds

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/switchyard-ci/switchyard/vars"
)

// Resolver answers one build's ((vars)), in Concourse's order:
//   - ((.:name)): the build's local vars; without one of that name, the
//     cluster-wide manager;
//   - ((source:name)): only that var source; when the pipeline declares
//     none, the prefix is ignored and the cluster-wide manager answers;
//   - ((name)): only the cluster-wide manager.
//
// Every value a manager or var source gives is remembered for redaction.
type Resolver struct {
	cluster  Source // nil: nothing is found
	scope    Scope
	trusted  bool
	declared map[string]*lazySource // nil: the pipeline declares no var sources

	mu      sync.Mutex
	local   map[string]any
	secrets map[string]bool
}

var _ vars.Lookup = (*Resolver)(nil)

// Trusted tells whether the build is trusted: neither its pipeline nor its
// job is marked untrusted.
func (r *Resolver) Trusted() bool { return r.trusted }

// SetLocal sets a build-local var, ((.:name)).
// A secret one (load_var without reveal) is remembered for redaction.
func (r *Resolver) SetLocal(name string, v any, secret bool) {
	if secret {
		r.remember(v)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.local == nil {
		r.local = map[string]any{}
	}
	r.local[name] = v
}

func (r *Resolver) Get(ctx context.Context, ref vars.Ref) (any, bool, error) {
	var src Source
	switch {
	case ref.Source == ".":
		r.mu.Lock()
		v, ok := r.local[ref.Path]
		r.mu.Unlock()
		if ok {
			return v, true, nil
		}
	case ref.Source != "" && r.declared != nil:
		ls, ok := r.declared[ref.Source]
		if !ok {
			return nil, false, fmt.Errorf("missing source '%s' in var: %s", ref.Source, ref)
		}
		var err error
		if src, err = ls.get(ctx, r); err != nil {
			return nil, false, err
		}
	}
	return r.managed(ctx, src, ref)
}

// managed asks a var source (nil: the cluster-wide manager) for a value,
// refused to untrusted builds before anything is asked.
func (r *Resolver) managed(ctx context.Context, src Source, ref vars.Ref) (any, bool, error) {
	if !r.trusted {
		return nil, false, &UntrustedError{Var: ref.String(), Scope: r.scope}
	}
	if src == nil {
		if src = r.cluster; src == nil {
			return nil, false, nil
		}
	}
	v, found, err := src.Get(ctx, r.scope, ref.Path)
	if err != nil {
		return nil, false, fmt.Errorf("look up ((%s)): %w", ref, err)
	}
	if found {
		r.remember(v)
	}
	return v, found, nil
}

// remember keeps every string in v as a secret.
func (r *Resolver) remember(v any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.secrets == nil {
		r.secrets = map[string]bool{}
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			r.secrets[x] = true
		case map[string]any:
			for _, val := range x {
				walk(val)
			}
		case []any:
			for _, val := range x {
				walk(val)
			}
		}
	}
	walk(v)
}

// Secrets lists the values handed out so far, sorted.
func (r *Resolver) Secrets() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.secrets))
	for s := range r.secrets {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// lazySource is a declared var source, built on first use with its config
// interpolated from the sources it names and the cluster-wide manager.
type lazySource struct {
	VarSource
	deps []string

	once sync.Once
	src  Source
	err  error
	make func(ctx context.Context, config map[string]any) (Source, error)
}

func (ls *lazySource) get(ctx context.Context, r *Resolver) (Source, error) {
	ls.once.Do(func() {
		config, err := vars.Interpolate(ctx, ls.Config, &configLookup{r: r, self: ls.Name})
		if err == nil {
			m, _ := config.(map[string]any)
			ls.src, err = ls.make(ctx, m)
		}
		if err != nil {
			ls.err = fmt.Errorf("evaluate var_source '%s' error: %w", ls.Name, err)
		}
	})
	return ls.src, ls.err
}

// configLookup resolves a var source's config: its references name other
// var sources (ordered before it, as order checked) or the cluster-wide
// manager.
type configLookup struct {
	r    *Resolver
	self string
}

func (c *configLookup) Get(ctx context.Context, ref vars.Ref) (any, bool, error) {
	if ref.Source == "" || ref.Source == "." {
		return c.r.managed(ctx, nil, ref)
	}
	return c.r.Get(ctx, ref)
}

// order refuses var sources that depend on each other in a cycle.
func order(sources map[string]*lazySource) error {
	state := map[string]int{} // 1: visiting, 2: done
	var cyclic []string
	var visit func(n string) bool
	visit = func(n string) bool {
		switch state[n] {
		case 1:
			return false
		case 2:
			return true
		}
		state[n] = 1
		for _, d := range sources[n].deps {
			if _, ok := sources[d]; ok && !visit(d) {
				if !slices.Contains(cyclic, n) {
					cyclic = append(cyclic, n)
				}
				return false
			}
		}
		state[n] = 2
		return true
	}
	names := make([]string, 0, len(sources))
	for n := range sources {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		visit(n)
	}
	if len(cyclic) > 0 {
		sort.Strings(cyclic)
		return fmt.Errorf("failed to order by dependency: could not resolve inter-dependent var sources: %s", strings.Join(cyclic, ", "))
	}
	return nil
}

package creds

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/switchyard-ci/switchyard/vars"
)

// VarSource is a pipeline's var_sources entry, as stored (its config may
// hold ((vars))).
type VarSource struct {
	Name   string         `json:"name"`
	Type   string         `json:"type"`
	Config map[string]any `json:"config"`
}

// Registry makes the Resolvers of builds; it holds the hub's cluster-wide
// manager and what pipelines' var sources need.
type Registry struct {
	Cluster Source // the cluster-wide manager; nil: none
	// Kube reads the secrets of pipelines' kubernetes var sources, each in
	// its team's namespace, Prefix+team; nil refuses such var sources.
	Kube   kubernetes.Interface
	Prefix string
	// IDToken makes an idtoken var source from its config; nil refuses
	// such var sources.
	IDToken func(config map[string]any) (Source, error)
	// Retry bounds the lookups of var sources as the cluster-wide manager's.
	Retry Retrying

	handoff handoff
}

// Resolver makes the resolver of one build. A var source is built when a
// step first names it.
func (reg *Registry) Resolver(s Scope, trusted bool, sources []VarSource) (*Resolver, error) {
	r := &Resolver{cluster: reg.Cluster, scope: s, trusted: trusted}
	if len(sources) == 0 {
		return r, nil
	}
	r.declared = map[string]*lazySource{}
	for i, vs := range sources {
		if _, dup := r.declared[vs.Name]; dup {
			return nil, fmt.Errorf("var_sources[%d]: var source name '%s' appears more than once", i, vs.Name)
		}
		ls := &lazySource{VarSource: vs, make: reg.maker(s, vs)}
		for _, ref := range refsIn(vs.Config) {
			if ref.Source != "" && ref.Source != "." {
				ls.deps = append(ls.deps, ref.Source)
			}
		}
		r.declared[vs.Name] = ls
	}
	if err := order(r.declared); err != nil {
		return nil, err
	}
	return r, nil
}

// maker builds a var source of the type vs names.
func (reg *Registry) maker(s Scope, vs VarSource) func(ctx context.Context, config map[string]any) (Source, error) {
	return func(_ context.Context, config map[string]any) (Source, error) {
		switch vs.Type {
		case "dummy":
			m, ok := config["vars"].(map[string]any)
			if !ok {
				return nil, fmt.Errorf("invalid vars config: %T", config["vars"])
			}
			return Dummy(m), nil
		case "kubernetes":
			if reg.Kube == nil {
				return nil, fmt.Errorf("this hub reads no kubernetes secrets: its operator sets --kubernetes-config-path or --kubernetes-in-cluster")
			}
			ns, _ := config["namespace"].(string)
			for k := range config {
				if k != "namespace" {
					return nil, fmt.Errorf("invalid kubernetes config: unknown setting: %s", k)
				}
			}
			if err := TeamNamespace(reg.Prefix, s.Team, ns); err != nil {
				return nil, err
			}
			return &Retrying{Source: &Kubernetes{Client: reg.Kube, Namespace: ns},
				Attempts: reg.Retry.Attempts, Interval: reg.Retry.Interval, Timeout: reg.Retry.Timeout}, nil
		case "idtoken":
			if reg.IDToken == nil {
				return nil, fmt.Errorf("this hub signs no id tokens")
			}
			return reg.IDToken(config)
		case "vault", "ssm", "secretsmanager", "credhub", "conjur":
			return nil, fmt.Errorf("credential manager type %s is not supported by Switchyard yet: use kubernetes, dummy or idtoken", vs.Type)
		}
		return nil, fmt.Errorf("unknown credential manager type: %s", vs.Type)
	}
}

// refsIn lists the references in a decoded value's strings and keys.
func refsIn(v any) []vars.Ref {
	var out []vars.Ref
	switch x := v.(type) {
	case string:
		out = vars.Refs(x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(append(out, vars.Refs(k)...), refsIn(x[k])...)
		}
	case []any:
		for _, val := range x {
			out = append(out, refsIn(val)...)
		}
	}
	return out
}

// handoff carries a step's resolved request from the engine to the gateway
// of the same process, so the vars are looked up once per step there.
type handoff struct {
	mu      sync.Mutex
	entries map[int64]handed
}

type handed struct {
	value   Resolved
	expires time.Time
}

// Keep holds a step's resolved request for the gateway, for a minute.
func (reg *Registry) Keep(stepID int64, r Resolved) {
	h := &reg.handoff
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	if h.entries == nil {
		h.entries = map[int64]handed{}
	}
	for id, e := range h.entries {
		if now.After(e.expires) {
			delete(h.entries, id)
		}
	}
	h.entries[stepID] = handed{value: r, expires: now.Add(time.Minute)}
}

// Take returns (and forgets) what Keep held for a step.
func (reg *Registry) Take(stepID int64) (Resolved, bool) {
	h := &reg.handoff
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.entries[stepID]
	delete(h.entries, stepID)
	if !ok || time.Now().After(e.expires) {
		return Resolved{}, false
	}
	return e.value, true
}

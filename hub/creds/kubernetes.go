package creds

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
)

// Kubernetes reads Secrets: in namespace Prefix+TEAM (or Namespace, for a
// pipeline's own var source), the secret PIPELINE.NAME, then NAME. A
// secret's "value" key is the value; without one, the value is a map of
// every key.
type Kubernetes struct {
	Client    kubernetes.Interface
	Prefix    string // cluster-wide: the team's namespace is Prefix+team
	Namespace string // a var source's namespace (overrides Prefix)
}

var _ Source = (*Kubernetes)(nil)

// The client's request rate: a step with 20 secrets makes up to 40
// requests, so client-go's default (5 a second) or Concourse's (100) would
// queue steps behind each other's lookups; the apiserver's own priority and
// fairness still protects it.
const (
	ClientQPS   = 1000
	ClientBurst = 2000
)

func (k *Kubernetes) Get(ctx context.Context, s Scope, name string) (any, bool, error) {
	if err := noSlash("kubernetes", name); err != nil {
		return nil, false, err
	}
	ns := k.Namespace
	if ns == "" {
		ns = k.Prefix + s.Team
	}
	var names []string
	if s.Pipeline != "" {
		names = append(names, s.Pipeline+"."+name)
	}
	names = append(names, name)
	asked := false
	for _, n := range names {
		if len(validation.IsDNS1123Subdomain(n)) > 0 {
			continue // no Secret can have this name
		}
		asked = true
		sec, err := k.Client.CoreV1().Secrets(ns).Get(ctx, n, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("read secret %s/%s: %w", ns, n, err)
		}
		if v, ok := sec.Data["value"]; ok {
			return string(v), true, nil
		}
		m := make(map[string]any, len(sec.Data))
		for key, v := range sec.Data {
			m[key] = string(v)
		}
		return m, true, nil
	}
	if !asked {
		return nil, false, fmt.Errorf("var %q cannot name a kubernetes secret: %s", name,
			strings.Join(validation.IsDNS1123Subdomain(name), "; "))
	}
	return nil, false, nil
}

// TeamNamespace tells whether a var source's namespace is team's own,
// PREFIX+team. Only that one: a prefix match would let team "a" read team
// "a-b"'s namespace.
func TeamNamespace(prefix, team, ns string) error {
	if own := prefix + team; ns != own {
		return fmt.Errorf("namespace %q is not team %s's: a pipeline's kubernetes var source may read only %s", ns, team, own)
	}
	return nil
}

package creds

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/spoke/runtime/kube/kubetest"
	"github.com/switchyard-ci/switchyard/wire"
	"k8s.io/client-go/kubernetes"
)

// BenchmarkStep20KubeSecrets measures what resolving a task's 20 secrets
// from the kubernetes manager (on the real kube-apiserver) adds to starting
// a step: the engine resolves them once before placing it. Half the names
// are pipeline-scoped secrets, half team-scoped (two reads each, as in
// Concourse). Reported: p50 and p99 per step, with and without the cache,
// next to a step without vars.
func BenchmarkStep20KubeSecrets(b *testing.B) {
	_, cfg, ns := kubetest.Namespace(b)
	cfg.QPS, cfg.Burst = ClientQPS, ClientBurst // as the hub's
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	team := strings.TrimPrefix(ns, "test-")
	params := map[string]string{}
	for n := range 20 {
		name := fmt.Sprintf("secret-%02d", n)
		if n%2 == 0 {
			putSecret(b, c, ns, "p."+name, map[string]string{"value": "v" + name})
		} else {
			putSecret(b, c, ns, name, map[string]string{"value": "v" + name})
		}
		params[strings.ToUpper(strings.ReplaceAll(name, "-", "_"))] = "((" + name + "))"
	}
	source, _ := json.Marshal(map[string]any{"uri": "https://example.com/repo.git"})
	req := wire.StepRequest{Kind: wire.KindTask, Name: "t", Source: source, Task: &wire.TaskRequest{
		Config: &pipeline.TaskConfig{Platform: "linux", Run: &pipeline.RunConfig{Path: "true"}}, Params: params}}
	plain := req
	plain.Task = &wire.TaskRequest{Config: req.Task.Config}
	kube := &Kubernetes{Client: c, Prefix: "test-"}
	for _, bc := range []struct {
		name string
		src  Source
		req  wire.StepRequest
	}{
		{"no-vars", kube, plain},
		{"20-secrets", kube, req},
		{"20-secrets-cached", &Cached{Source: kube, TTL: time.Minute, NotFoundTTL: 10 * time.Second}, req},
	} {
		b.Run(bc.name, func(b *testing.B) {
			reg := &Registry{Cluster: bc.src}
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				r, err := reg.Resolver(Scope{Team: team, Pipeline: "p", Job: "j"}, true, nil)
				if err != nil {
					b.Fatal(err)
				}
				res, err := ResolveRequest(context.Background(), r, bc.req)
				if err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
				if bc.req.Task.Params != nil && len(res.Secrets) != 20 {
					b.Fatalf("%d secrets resolved, want 20", len(res.Secrets))
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

package kube_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/spoke/runtime/kube"
	"github.com/switchyard-ci/switchyard/spoke/runtime/kube/kubetest"
)

// firstLine records when a step's first log line arrived.
type firstLine struct {
	once sync.Once
	at   time.Time
}

// Line notes the first line on stdout: the command's (the runtime's news of
// the pod goes to stderr).
func (f *firstLine) Line(source, _ string) {
	if source == "stdout" {
		f.once.Do(func() { f.at = time.Now() })
	}
}

// BenchmarkSteps50 starts 50 task steps at once on the local control plane
// and its test node, and reports, from asking for the pod, the time to the
// command running (its first log line) and to the result, p50 and p99.
func BenchmarkSteps50(b *testing.B) {
	c, _, ns := kubetest.Namespace(b)
	rt := &kube.Runtime{Client: c, Namespace: ns, Spoke: "bench"}
	var running, done []time.Duration
	for n := range b.N {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := assignment(int64(n*100+i+1), "bench", "steps", fmt.Sprintf("s%d", i), task("echo running"))
				logs := &firstLine{}
				start := time.Now()
				res := rt.Run(context.Background(), a, logs)
				end := time.Since(start)
				if res.Error != "" || res.ExitStatus != 0 || logs.at.IsZero() {
					b.Errorf("step %d: %+v", i, res)
					return
				}
				mu.Lock()
				running = append(running, logs.at.Sub(start))
				done = append(done, end)
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	slices.Sort(running)
	slices.Sort(done)
	if len(done) == 0 {
		return
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(running[len(running)/2]), "p50-running-ms")
	b.ReportMetric(ms(running[len(running)*99/100]), "p99-running-ms")
	b.ReportMetric(ms(done[len(done)/2]), "p50-result-ms")
	b.ReportMetric(ms(done[len(done)*99/100]), "p99-result-ms")
}

package onstore_test

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/algorithm"
	"github.com/switchyard-ci/switchyard/algorithm/scenario"
	"github.com/switchyard-ci/switchyard/algorithm/scenario/onstore"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
)

// BenchmarkResolveProductionScenarios times resolving each production-sized
// scenario on the real store: the load is excluded; the figure is the p50 of
// 20 resolves of the current job's inputs.
func BenchmarkResolveProductionScenarios(b *testing.B) {
	files, _ := filepath.Glob("../../testdata/regression/*.json.gz")
	st := storetest.New(b)
	ctx := b.Context()
	for _, f := range files {
		scenarios, err := scenario.Load(f)
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range scenarios {
			b.Run(strings.ReplaceAll(s.ID, "/", "-"), func(b *testing.B) {
				w, err := onstore.Load(ctx, st, s, "bench-"+s.ID)
				if err != nil {
					b.Fatal(err)
				}
				inputs := scenario.Inputs(s, w)
				job := w.JobID(s.CurrentJob)
				b.ResetTimer()
				for b.Loop() {
					times := make([]time.Duration, 20)
					for i := range times {
						start := time.Now()
						if _, err := algorithm.Resolve(ctx, w, job, inputs); err != nil {
							b.Fatal(err)
						}
						times[i] = time.Since(start)
					}
					sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
					b.ReportMetric(float64(times[10].Microseconds())/1000, "p50-resolve-ms")
				}
			})
		}
	}
}

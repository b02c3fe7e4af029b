package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
	"github.com/switchyard-ci/switchyard/metrics"
)

// BenchmarkScrape measures one scrape of the hub's /metrics with 100 spokes
// in the store (read at scrape time) and 1,000 jobs of 10 pipelines each
// with a finished build (their series: builds finished, duration
// histogram, latest status), reporting the response's size.
func BenchmarkScrape(b *testing.B) {
	st := storetest.New(b)
	ctx := b.Context()
	for i := range 100 {
		if _, err := st.RegisterSpoke(ctx, store.SpokeRegistration{Name: fmt.Sprintf("spoke-%03d", i), Runtime: "kube", Tags: []string{"gpu"}}, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 1000 {
		p, j := fmt.Sprintf("pipeline-%d", i%10), fmt.Sprintf("job-%d", i)
		metrics.BuildsFinished.WithLabelValues("main", p, j, "succeeded").Inc()
		metrics.BuildDuration.WithLabelValues("main", p, j).Observe(42)
		metrics.LatestBuildStatus.WithLabelValues(j, p, "main").Set(0)
		metrics.JobsSchedulingTime.WithLabelValues(p, j, fmt.Sprint(i)).Observe(3)
	}
	h := hubMetrics(st)
	var size int
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("scrape: %d", rec.Code)
		}
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size)/1024, "KiB/scrape")
}

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard-ci/switchyard/api"
)

// BenchmarkTrigger200Builds triggers 200 builds of a 3-step no-op job at once on
// one local spoke and reports: trigger -> first step running (p50, p99; from
// the build's creation to its first start-task event, both stamped by the
// database), steps per second from the first trigger to the last build's end,
// the hub's resident memory at the end, and the share of transactions that
// PostgreSQL rolled back as serialization failures (and the store retried).
func BenchmarkTrigger200Builds(b *testing.B) {
	for b.Loop() {
		benchTrigger(b, benchBuilds())
	}
}

func benchTrigger(b *testing.B, builds int) {
	f := newFleet(b)
	f.startSpoke("local-1", f.url)
	f.setPipeline("bench", `
jobs:
- name: noop
  plan:
  - {task: one, config: {platform: linux, run: {path: "true"}}}
  - {task: two, config: {platform: linux, run: {path: "true"}}}
  - {task: three, config: {platform: linux, run: {path: "true"}}}
`)
	ctx := context.Background()
	c := &api.Client{URL: f.url, Token: f.token()}
	start := time.Now()
	var wg sync.WaitGroup
	ids := make([]int64, builds)
	for i := range builds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var bld api.Build
			if _, err := c.Do(ctx, http.MethodPost, api.PipelinePath("main", "bench")+"/jobs/noop/builds", nil, nil, &bld); err != nil {
				b.Error(err)
			}
			ids[i] = bld.ID
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var bs []api.Build
		if err := c.Get(ctx, api.PipelinePath("main", "bench")+"/jobs/noop/builds?limit="+strconv.Itoa(builds), &bs); err != nil {
			b.Fatal(err)
		}
		done := 0
		for _, bl := range bs {
			if bl.Status == "succeeded" {
				done++
			} else if bl.Status != "pending" && bl.Status != "started" {
				b.Fatalf("build %d %s", bl.ID, bl.Status)
			}
		}
		if done == builds {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d builds done after 5 minutes", done, builds)
		}
		time.Sleep(250 * time.Millisecond)
	}
	elapsed := time.Since(start)

	conn, err := pgx.Connect(ctx, f.db)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
		SELECT EXTRACT(EPOCH FROM (min(e.created_at) - b.create_time)) * 1000
		FROM builds b JOIN build_events e ON e.build_id = b.id AND e.event_type = 'start-task'
		GROUP BY b.id, b.create_time`)
	if err != nil {
		b.Fatal(err)
	}
	lat, err := pgx.CollectRows(rows, pgx.RowTo[float64])
	if err != nil || len(lat) != builds {
		b.Fatalf("%d latencies, %v", len(lat), err)
	}
	sort.Float64s(lat)
	// PostgreSQL flushes a backend's statistics within a second.
	time.Sleep(1100 * time.Millisecond)
	var commits, rollbacks float64
	if err := conn.QueryRow(ctx, `SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()`).Scan(&commits, &rollbacks); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(100*rollbacks/(commits+rollbacks), "%-tx-retried")
	b.ReportMetric(lat[len(lat)/2], "p50-first-step-ms")
	b.ReportMetric(lat[len(lat)*99/100], "p99-first-step-ms")
	b.ReportMetric(float64(3*builds)/elapsed.Seconds(), "steps/s")
	b.ReportMetric(rssMB(f.hub.Process.Pid), "hub-rss-MB")
}

func rssMB(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// benchBuilds is 200, or SWITCHYARD_BENCH_BUILDS when exploring.
func benchBuilds() int {
	if n, err := strconv.Atoi(os.Getenv("SWITCHYARD_BENCH_BUILDS")); err == nil && n > 0 {
		return n
	}
	return 200
}

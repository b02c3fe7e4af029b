package scheduler_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/algorithm"
	"github.com/switchyard-ci/switchyard/hub/scheduler"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
)

// The generated fleet: 10 pipelines of 100 jobs in 10 layers of 10. Every job
// gets the pipeline's main resource and one side resource; from the second
// layer on, the main resource passes 1 to 10 jobs of the layer above (chains
// and fan-ins). 100 resources of 10,000 versions, and 100 builds per job
// (100,000): each of the last 100 main versions flowed through every job, with
// about one build in ten failed, so that resolutions must search back.
const (
	fleetPipelines  = 10
	fleetLayers     = 10
	fleetWidth      = 10
	fleetResources  = 10 // per pipeline
	fleetVersions   = 10000
	fleetBuildsEach = 100
)

func fleetJob(layer, i int) string { return fmt.Sprintf("l%d-j%d", layer, i) }

// fleetConfig is one pipeline of the fleet.
func fleetConfig() string {
	var b strings.Builder
	b.WriteString("resources:\n")
	for r := range fleetResources {
		fmt.Fprintf(&b, "- {name: r%d, type: mock, check_every: never}\n", r)
	}
	b.WriteString("jobs:\n")
	for l := range fleetLayers {
		for i := range fleetWidth {
			fmt.Fprintf(&b, "- name: %s\n  plan:\n  - get: r0\n    trigger: true\n", fleetJob(l, i))
			if l > 0 {
				var passed []string
				for k := range 1 + i%fleetWidth {
					passed = append(passed, fleetJob(l-1, k))
				}
				fmt.Fprintf(&b, "    passed: [%s]\n", strings.Join(passed, ", "))
			}
			fmt.Fprintf(&b, "  - get: r%d\n", 1+(l*fleetWidth+i)%(fleetResources-1))
		}
	}
	return b.String()
}

func ver(s string) map[string]string { return map[string]string{"ver": s} }

// loadFleet fills a store with the fleet.
func loadFleet(b *testing.B) (*world, []*world) {
	b.Helper()
	ctx := b.Context()
	st := storetest.New(b)
	team, err := st.SaveTeam(ctx, "main", nil)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var worlds []*world
	for p := range fleetPipelines {
		w := newWorldIn(b, st, team.ID, fmt.Sprintf("fleet-%d", p), fleetConfig())
		worlds = append(worlds, w)
		for r := range fleetResources {
			vs := make([]map[string]string, fleetVersions)
			for v := range vs {
				vs[v] = ver(fmt.Sprintf("r%d-%05d", r, v))
			}
			if err := st.CopyVersions(ctx, w.resource(fmt.Sprintf("r%d", r)).ID, vs, 1); err != nil {
				b.Fatal(err)
			}
		}
		var records []store.BuildRecord
		for round := range fleetBuildsEach {
			main := ver(fmt.Sprintf("r0-%05d", fleetVersions-fleetBuildsEach+round))
			for l := range fleetLayers {
				for i := range fleetWidth {
					side := 1 + (l*fleetWidth+i)%(fleetResources-1)
					status := "succeeded"
					if rng.IntN(10) == 0 {
						status = "failed"
					}
					records = append(records, store.BuildRecord{JobID: w.job(fleetJob(l, i)).ID, Status: status, Inputs: []store.RecordedInput{
						{Name: "r0", ResourceID: w.resource("r0").ID, Version: main},
						{Name: fmt.Sprintf("r%d", side), ResourceID: w.resource(fmt.Sprintf("r%d", side)).ID,
							Version: ver(fmt.Sprintf("r%d-%05d", side, fleetVersions-fleetBuildsEach+round))},
					}})
				}
			}
		}
		if _, err := st.RecordBuilds(ctx, records, nil); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.Analyze(ctx); err != nil {
		b.Fatal(err)
	}
	return worlds[0], worlds
}

// countingDB counts the algorithm's reads: each is one SQL query (a page of
// builds comes with its output sets).
type countingDB struct {
	algorithm.VersionsDB
	n *atomic.Int64
}

func (c countingDB) LatestVersion(ctx context.Context, r int64) (algorithm.VersionID, bool, error) {
	c.n.Add(1)
	return c.VersionsDB.LatestVersion(ctx, r)
}
func (c countingDB) NextEveryVersion(ctx context.Context, j, r int64) (algorithm.VersionID, bool, bool, error) {
	c.n.Add(1)
	return c.VersionsDB.NextEveryVersion(ctx, j, r)
}
func (c countingDB) EnabledVersion(ctx context.Context, r int64, v map[string]string) (algorithm.VersionID, bool, error) {
	c.n.Add(1)
	return c.VersionsDB.EnabledVersion(ctx, r, v)
}
func (c countingDB) SucceededBuilds(ctx context.Context, j int64, k algorithm.Constraints, from *algorithm.BuildCursor, limit int) ([]algorithm.BuildCursor, error) {
	page, err := c.VersionsDB.SucceededBuilds(ctx, j, k, from, limit)
	c.page(page)
	return page, err
}
func (c countingDB) UnusedBuilds(ctx context.Context, j int64, k algorithm.Constraints, last algorithm.BuildCursor, from *algorithm.BuildCursor, limit int) ([]algorithm.BuildCursor, error) {
	page, err := c.VersionsDB.UnusedBuilds(ctx, j, k, last, from, limit)
	c.page(page)
	return page, err
}
func (c countingDB) page([]algorithm.BuildCursor) { c.n.Add(1) }
func (c countingDB) Outputs(ctx context.Context, b algorithm.BuildID) (map[int64]algorithm.VersionID, error) {
	c.n.Add(1)
	return c.VersionsDB.Outputs(ctx, b)
}
func (c countingDB) LastUsedBuilds(ctx context.Context, j, r int64) (map[int64]algorithm.BuildCursor, error) {
	c.n.Add(1)
	return c.VersionsDB.LastUsedBuilds(ctx, j, r)
}
func (c countingDB) UsedBefore(ctx context.Context, j int64, name string, r int64, v algorithm.VersionID) (bool, error) {
	c.n.Add(1)
	return c.VersionsDB.UsedBefore(ctx, j, name, r, v)
}

func heapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapInuse) / (1 << 20)
}

// BenchmarkFleet resolves every job of the generated fleet (p50 and p99 per
// job, queries per resolve), then saves a new main version in every pipeline
// and times the scheduler handling all 1,000 jobs, with the heap before and
// after. Loading the fleet is not timed.
func BenchmarkFleet(b *testing.B) {
	ctx := b.Context()
	start := time.Now()
	_, worlds := loadFleet(b)
	b.Logf("fleet loaded in %s", time.Since(start).Round(time.Second))
	st := worlds[0].st
	var queries atomic.Int64
	db := countingDB{st.VersionsDB(), &queries}
	var times []time.Duration
	resolved := 0
	b.ResetTimer()
	for range b.N {
		times = times[:0]
		queries.Store(0)
		resolved = 0
		for _, w := range worlds {
			jobs, err := st.Jobs(ctx, w.pipeline.ID)
			if err != nil {
				b.Fatal(err)
			}
			for _, j := range jobs {
				sj, err := st.JobForScheduling(ctx, j.ID)
				if err != nil {
					b.Fatal(err)
				}
				inputs := make([]algorithm.Input, len(sj.Inputs))
				for i, in := range sj.Inputs {
					inputs[i] = algorithm.Input{Name: in.Name, ResourceID: in.ResourceID, Passed: in.Passed, Every: in.Every, Pinned: in.Pinned}
				}
				t0 := time.Now()
				q0 := queries.Load()
				res, err := algorithm.Resolve(ctx, db, j.ID, inputs)
				times = append(times, time.Since(t0))
				if d := time.Since(t0); d > 50*time.Millisecond {
					b.Logf("slow: %s/%s took %s, %d queries", w.pipeline.Name, j.Name, d, queries.Load()-q0)
				}
				if err != nil {
					b.Fatal(err)
				}
				if res.OK() {
					resolved++
				}
			}
		}
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-resolve-ms")
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-resolve-ms")
	b.ReportMetric(float64(queries.Load())/float64(len(times)), "queries/resolve")
	b.Logf("%d of %d jobs resolved", resolved, len(times))

	// Everything handled: then one new main version per pipeline asks all
	// 1,000 jobs to be scheduled.
	sched := scheduler.New(st, slog.New(slog.NewTextHandler(io.Discard, nil)), scheduler.Options{Holder: "bench"})
	drain := func() time.Duration {
		t0 := time.Now()
		for {
			jobs, err := st.RequestedJobs(ctx, 10000)
			if err != nil {
				b.Fatal(err)
			}
			if len(jobs) == 0 {
				return time.Since(t0)
			}
			if err := sched.Tick(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	drain()
	before := heapMB()
	for _, w := range worlds {
		if err := st.RequestPipelineSchedule(ctx, w.pipeline.ID); err != nil {
			b.Fatal(err)
		}
		if err := st.SaveVersions(ctx, w.resource("r0").ID, []map[string]string{ver("r0-new")}, nil); err != nil {
			b.Fatal(err)
		}
	}
	took := drain()
	after := heapMB()
	b.ReportMetric(took.Seconds(), "schedule-all-s")
	b.ReportMetric(before, "heap-before-MB")
	b.ReportMetric(after, "heap-after-MB")
}

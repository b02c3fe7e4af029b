package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
)

// BenchmarkHotPath measures the hub's hot path with a 3-step no-op job on one
// local spoke, for the binaries of this checkout (current) and, when
// SWITCHYARD_BENCH_BASELINE_BIN names a directory holding another commit's
// switchyard and fly (hack/bench.sh builds the commit named in
// hack/bench-baseline), for those (baseline), in the same run so that the
// ratios hold. Each reports:
//   - burst: 200 builds triggered at once (SWITCHYARD_BENCH_BUILDS changes the
//     number): from the first build's creation until every build's first step
//     runs, and until the last build is created, and steps per second until
//     the last build ends;
//   - steady: builds arriving at 20 a second for 30 s: trigger → first step
//     running, p50 and p99 (the build's creation to its first start-task
//     event, both stamped by the database);
//   - both: statements and transactions per step, the share of transactions
//     rolled back (serialization failures the store retried), the hub's
//     resident memory at the end, the CPU time per step of the hub, the
//     spoke, the steps' processes and PostgreSQL, and the share of the
//     machine's CPU that was busy from the first trigger until every build
//     was seen done (polled every 200 ms), and steps/s divided by pgbench's
//     simple-update transactions per second on the same server, measured
//     just before (a step commits at least twice, so 0.5 is the ceiling).
func BenchmarkHotPath(b *testing.B) {
	variants := []struct{ name, bin string }{{"current", bin}}
	if dir := os.Getenv("SWITCHYARD_BENCH_BASELINE_BIN"); dir != "" {
		variants = append([]struct{ name, bin string }{{"baseline", dir}}, variants...)
	} else {
		b.Log("SWITCHYARD_BENCH_BASELINE_BIN is not set: no baseline (make bench sets it)")
	}
	for _, v := range variants {
		b.Run(v.name+"/burst", func(b *testing.B) {
			for b.Loop() {
				benchLoad(b, v.bin, benchBuilds(), 0, benchOptions{})
			}
		})
		b.Run(v.name+"/steady", func(b *testing.B) {
			for b.Loop() {
				benchLoad(b, v.bin, 600, time.Second/20, benchOptions{})
			}
		})
	}
}

// benchOptions are what a load runs beside: env for the hub and the spoke
// (tracing's), and a scraper of the hub's /metrics every second.
type benchOptions struct {
	env    []string
	scrape bool
}

// benchLoad triggers n builds, all at once (every 0) or one every interval,
// waits for all of them to succeed and reports the figures.
func benchLoad(b *testing.B, binDir string, n int, every time.Duration, o benchOptions) {
	tps := pgbenchTPS(b)
	// The hub's default build lease: the tests' 2 s would renew each
	// build's lease three times a second.
	args := []string{"--build-lease", "15s"}
	if o.scrape {
		args = append(args, "--metrics-token", "bench")
	}
	f := newFleetOf(b, binDir, "", args, o.env...)
	f.spokeEnv = o.env
	spoke := f.startSpoke("local-1", f.url)
	if o.scrape {
		stop := scrapeEverySecond(b, f.url+"/metrics", "bench")
		defer stop()
	}
	f.setPipeline("bench", `
jobs:
- name: noop
  plan:
  - {task: one, config: {platform: linux, run: {path: "true"}}}
  - {task: two, config: {platform: linux, run: {path: "true"}}}
  - {task: three, config: {platform: linux, run: {path: "true"}}}
`)
	ctx := b.Context()
	conn, err := pgx.Connect(ctx, f.db)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	// The bench only reads: under the server's SERIALIZABLE default its
	// lone reads could fail as victims of the hub's transactions.
	if _, err := conn.Exec(ctx, `SET default_transaction_isolation = 'read committed'`); err != nil {
		b.Fatal(err)
	}
	before := dbCounters(b, conn)

	c := &api.Client{URL: f.url, Token: f.token()}
	hubCPU, spokeCPU, stepsCPU := cpuSeconds(f.hub.Process.Pid), cpuSeconds(spoke.Process.Pid), childrenCPUSeconds(spoke.Process.Pid)
	pgCPU, busy := postgresCPUSeconds(b, conn), machineCPU()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Do(ctx, http.MethodPost, api.PipelinePath("main", "bench")+"/jobs/noop/builds", nil, nil, nil); err != nil {
				b.Error(err)
			}
		}()
		if every > 0 && i < n-1 {
			time.Sleep(every)
		}
	}
	wg.Wait()
	waitBuilds(b, conn, n)
	busyDuring := machineCPU().busySince(busy) // the load's own, before the queries and sleep below

	var firstAll, elapsed, creating float64
	if err := conn.QueryRow(ctx, `
		SELECT EXTRACT(EPOCH FROM (max(first) - min(create_time))), EXTRACT(EPOCH FROM (max(end_time) - min(create_time))),
			EXTRACT(EPOCH FROM (max(create_time) - min(create_time)))
		FROM (SELECT b.create_time, b.end_time, (SELECT min(e.created_at) FROM build_events e WHERE e.build_id = b.id AND e.event_type = 'start-task') AS first
		      FROM builds b) AS t`).Scan(&firstAll, &elapsed, &creating); err != nil {
		b.Fatal(err)
	}
	rows, err := conn.Query(ctx, `
		SELECT EXTRACT(EPOCH FROM (min(e.created_at) - b.create_time)) * 1000
		FROM builds b JOIN build_events e ON e.build_id = b.id AND e.event_type = 'start-task'
		GROUP BY b.id, b.create_time`)
	if err != nil {
		b.Fatal(err)
	}
	lat, err := pgx.CollectRows(rows, pgx.RowTo[float64])
	if err != nil || len(lat) != n {
		b.Fatalf("%d latencies, %v", len(lat), err)
	}
	sort.Float64s(lat)
	// Where a step's time goes: placed (initialize-task) to running
	// (start-task), to its result (finish-task), to the next step placed.
	var toRunning, toResult, toNext float64
	if err := conn.QueryRow(ctx, `
		WITH s AS (
			SELECT build_id,
				min(created_at) FILTER (WHERE event_type = 'initialize-task') AS placed,
				min(created_at) FILTER (WHERE event_type = 'start-task') AS running,
				min(created_at) FILTER (WHERE event_type = 'finish-task') AS result
			FROM build_events WHERE event_type IN ('initialize-task', 'start-task', 'finish-task')
			GROUP BY build_id, payload->'origin'->>'id'),
		n AS (SELECT *, lead(placed) OVER (PARTITION BY build_id ORDER BY placed) AS next FROM s)
		SELECT avg(EXTRACT(EPOCH FROM running - placed)) * 1000, avg(EXTRACT(EPOCH FROM result - running)) * 1000,
			COALESCE(avg(EXTRACT(EPOCH FROM next - result)) * 1000, 0) FROM n`).Scan(&toRunning, &toResult, &toNext); err != nil {
		b.Fatal(err)
	}
	// And before: a build's creation to its start by the engine (scheduling
	// included), to its first step placed.
	var toStarted, toPlaced float64
	if err := conn.QueryRow(ctx, `
		WITH s AS (
			SELECT b.create_time,
				(SELECT min(e.created_at) FROM build_events e WHERE e.build_id = b.id AND e.event_type = 'status') AS started,
				(SELECT min(e.created_at) FROM build_events e WHERE e.build_id = b.id AND e.event_type = 'initialize-task') AS placed
			FROM builds b)
		SELECT avg(EXTRACT(EPOCH FROM started - create_time)) * 1000, avg(EXTRACT(EPOCH FROM placed - started)) * 1000 FROM s`).Scan(&toStarted, &toPlaced); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(toStarted, "ms-created-to-started")
	b.ReportMetric(toPlaced, "ms-started-to-first-placed")
	b.ReportMetric(toRunning, "ms-placed-to-running")
	b.ReportMetric(toResult, "ms-running-to-result")
	b.ReportMetric(toNext, "ms-result-to-next-placed")
	// PostgreSQL flushes a backend's statistics within a second.
	time.Sleep(1100 * time.Millisecond)
	after := dbCounters(b, conn)
	steps := float64(3 * n)
	stepsPerSec := steps / elapsed
	if every == 0 {
		b.ReportMetric(firstAll*1000, "ms-until-all-first-steps")
		b.ReportMetric(creating*1000, "ms-creating-builds") // the first build's creation to the last's
		b.ReportMetric(stepsPerSec, "steps/s")
		b.ReportMetric(stepsPerSec/tps, "steps-per-pgbench-tx")
	} else {
		b.ReportMetric(lat[len(lat)/2], "p50-first-step-ms")
		b.ReportMetric(lat[len(lat)*99/100], "p99-first-step-ms")
	}
	b.ReportMetric(tps, "pgbench-tps")
	tx := after.commits + after.rollbacks - before.commits - before.rollbacks
	b.ReportMetric(tx/steps, "tx/step")
	b.ReportMetric(100*(after.rollbacks-before.rollbacks)/tx, "%-tx-retried")
	if after.statements >= 0 {
		b.ReportMetric((after.statements-before.statements)/steps, "statements/step")
	}
	b.ReportMetric(rssMB(f.hub.Process.Pid), "hub-rss-MB")
	b.ReportMetric(1000*(cpuSeconds(f.hub.Process.Pid)-hubCPU)/steps, "hub-cpu-ms/step")
	b.ReportMetric(1000*(cpuSeconds(spoke.Process.Pid)-spokeCPU)/steps, "spoke-cpu-ms/step")
	b.ReportMetric(1000*(childrenCPUSeconds(spoke.Process.Pid)-stepsCPU)/steps, "steps-cpu-ms/step")
	b.ReportMetric(1000*(postgresCPUSeconds(b, conn)-pgCPU)/steps, "pg-cpu-ms/step")
	b.ReportMetric(busyDuring, "%-machine-busy")
}

// scrapeEverySecond reads url as Prometheus would, every second, until stop.
func scrapeEverySecond(b *testing.B, url, token string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// BenchmarkTracing runs BenchmarkHotPath's loads with tracing off, and on
// (the hub and the spoke sending every span to a real Jaeger, the hub's
// /metrics scraped every second), in the same run: the difference is
// what observability costs. Metrics are counted in both (they cannot be
// turned off); scraping them is what "on" adds.
func BenchmarkTracing(b *testing.B) {
	if os.Getenv(EnvJaeger) == "" {
		b.Skipf("%s is not set: make bench sets it", EnvJaeger)
	}
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name+"/burst", func(b *testing.B) {
			for b.Loop() {
				benchLoad(b, bin, benchBuilds(), 0, tracingOptions(b, on))
			}
		})
		b.Run(name+"/steady", func(b *testing.B) {
			for b.Loop() {
				benchLoad(b, bin, 600, time.Second/20, tracingOptions(b, on))
			}
		})
	}
}

func tracingOptions(b *testing.B, on bool) benchOptions {
	if !on {
		return benchOptions{}
	}
	// The exporter's own batching (5 s), not the tests' quick flush.
	return benchOptions{env: []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + newJaeger(b).otlp}, scrape: true}
}

// cpuSeconds is the CPU time a process has used, user and system, without
// its children's.
func cpuSeconds(pid int) float64 { return statCPUSeconds(pid, 11) }

// childrenCPUSeconds is the CPU time of pid's children that ended (the
// spoke's steps' processes).
func childrenCPUSeconds(pid int) float64 { return statCPUSeconds(pid, 13) }

// statCPUSeconds adds the user and system times at fields i and i+1 of
// /proc/PID/stat (after the command name).
func statCPUSeconds(pid, i int) float64 {
	fields := statFields(pid)
	if len(fields) < i+2 {
		return 0
	}
	user, _ := strconv.ParseFloat(fields[i], 64)
	sys, _ := strconv.ParseFloat(fields[i+1], 64)
	return (user + sys) / 100 // clock ticks of 10 ms
}

// statFields are the fields of /proc/PID/stat after the command name.
func statFields(pid int) []string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	return strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
}

// postgresCPUSeconds is the CPU time of the PostgreSQL server conn talks
// to: its postmaster's, its live processes' and those that ended.
func postgresCPUSeconds(b *testing.B, conn *pgx.Conn) float64 {
	var dir string
	if err := conn.QueryRow(b.Context(), `SHOW data_directory`).Scan(&dir); err != nil {
		b.Fatal(err)
	}
	pidFile, err := os.ReadFile(dir + "/postmaster.pid")
	if err != nil {
		b.Fatalf("the bench reads PostgreSQL's CPU time from /proc: %v", err)
	}
	postmaster, _ := strconv.Atoi(strings.SplitN(string(pidFile), "\n", 2)[0])
	total := cpuSeconds(postmaster) + childrenCPUSeconds(postmaster)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := statFields(pid); len(f) > 1 && f[1] == strconv.Itoa(postmaster) {
			total += cpuSeconds(pid)
		}
	}
	return total
}

// cpuTimes are the machine's busy and total CPU time from /proc/stat.
type cpuTimes struct{ busy, total float64 }

func machineCPU() cpuTimes {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}
	}
	fields := strings.Fields(strings.SplitN(string(data), "\n", 2)[0])[1:]
	var t cpuTimes
	for i, f := range fields {
		v, _ := strconv.ParseFloat(f, 64)
		t.total += v
		if i != 3 && i != 4 { // idle and iowait
			t.busy += v
		}
	}
	return t
}

// busySince is the share of the machine's CPU time that was busy since
// before, in percent.
func (t cpuTimes) busySince(before cpuTimes) float64 {
	if t.total <= before.total {
		return 0
	}
	return 100 * (t.busy - before.busy) / (t.total - before.total)
}

// waitBuilds waits until the job's n builds have succeeded. It asks the
// database, a count now and then: listing the builds through the API every
// 100 ms took a tenth of the hub's CPU under a burst, from what it measures.
func waitBuilds(b *testing.B, conn *pgx.Conn, n int) {
	ctx := b.Context()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var done, bad int
		var failed string
		if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'succeeded'),
			count(*) FILTER (WHERE status IN ('failed', 'errored', 'aborted')),
			COALESCE(min(id::TEXT || ' ' || status) FILTER (WHERE status IN ('failed', 'errored', 'aborted')), '')
			FROM builds`).Scan(&done, &bad, &failed); err != nil {
			b.Fatal(err)
		}
		if bad > 0 {
			b.Fatalf("%d builds did not succeed (build %s)", bad, failed)
		}
		if done == n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d builds done after 5 minutes", done, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type counters struct{ commits, rollbacks, statements float64 }

// dbCounters reads the database's transaction counters and, when the server
// loads pg_stat_statements (hack/postgres.sh does), its statement count;
// statements is -1 otherwise.
func dbCounters(b *testing.B, conn *pgx.Conn) counters {
	ctx := b.Context()
	var c counters
	if err := conn.QueryRow(ctx, `SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()`).Scan(&c.commits, &c.rollbacks); err != nil {
		b.Fatal(err)
	}
	c.statements = -1
	if _, err := conn.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		b.Logf("no statement counts: %v", err)
		return c
	}
	err := conn.QueryRow(ctx, `SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&c.statements)
	if err != nil {
		b.Logf("no statement counts (is pg_stat_statements in shared_preload_libraries?): %v", err)
		c.statements = -1
	}
	return c
}

var tpsLine = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)

// pgbenchTPS runs pgbench's simple-update script on a database of its own on
// the tests' server for 10 s and returns its transactions per second.
func pgbenchTPS(b *testing.B) float64 {
	db := storetest.URL(b)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "pgbench", "-i", "-q", db).CombinedOutput(); err != nil {
		b.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(ctx, "pgbench", "--builtin=simple-update", "--max-tries=100", "-c", "8", "-j", "2", "-T", "10", db).CombinedOutput()
	if err != nil {
		b.Fatalf("pgbench: %v\n%s", err, out)
	}
	m := tpsLine.FindSubmatch(out)
	if m == nil {
		b.Fatalf("no tps in pgbench's output:\n%s", out)
	}
	tps, _ := strconv.ParseFloat(string(m[1]), 64)
	return tps
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

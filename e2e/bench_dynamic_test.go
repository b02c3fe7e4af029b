package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard-ci/switchyard/api"
)

// BenchmarkSetPipelineChildren: one build sets 100 instanced children with
// load_var, across and set_pipeline, beside the baseline of the same 100
// configs saved through the API as fly set-pipeline saves them, in the same
// run: seconds, statements per child and hub RSS.
func BenchmarkSetPipelineChildren(b *testing.B) {
	const children = 100
	names := make([]string, children)
	for i := range names {
		names[i] = fmt.Sprintf(`"b%d"`, i)
	}
	child := `jobs:
- name: hello
  plan:
  - task: say
    config: {platform: linux, run: {path: echo, args: ["hello from ((branch))"]}}
`
	b.Run("set_pipeline", func(b *testing.B) {
		for b.Loop() {
			f, conn := benchFleet(b)
			f.setPipeline("parent", strings.Replace(setPipelineParent, "%s", "["+strings.Join(names, ",")+"]", 1))
			f.mustFly("check-resource", "-r", "parent/configs")
			before := dbCounters(b, conn)
			start := time.Now()
			if out := f.mustFly("trigger-job", "-j", "parent/set-children", "-w"); !strings.Contains(out, "succeeded") {
				b.Fatalf("the parent's build:\n%s", out)
			}
			reportChildren(b, conn, f, before, time.Since(start), children)
		}
	})
	b.Run("fly-set-pipeline", func(b *testing.B) {
		for b.Loop() {
			f, conn := benchFleet(b)
			c := &api.Client{URL: f.url, Token: f.token()}
			before := dbCounters(b, conn)
			start := time.Now()
			for i := range children {
				cfg := strings.ReplaceAll(child, "((branch))", fmt.Sprintf("b%d", i))
				path := api.InstancePath("main", "child", map[string]any{"branch": fmt.Sprintf("b%d", i)})
				if _, err := c.Do(b.Context(), http.MethodPut, path+"/config", http.Header{"Content-Type": {"application/x-yaml"}}, []byte(cfg), nil); err != nil {
					b.Fatal(err)
				}
			}
			reportChildren(b, conn, f, before, time.Since(start), children)
		}
	})
}

func reportChildren(b *testing.B, conn *pgx.Conn, f *fleet, before counters, took time.Duration, children int) {
	var n int
	if err := conn.QueryRow(b.Context(), `SELECT count(*) FROM pipelines WHERE name = 'child'`).Scan(&n); err != nil || n != children {
		b.Fatalf("%d children, want %d (%v)", n, children, err)
	}
	time.Sleep(1100 * time.Millisecond) // PostgreSQL flushes a backend's statistics within a second
	after := dbCounters(b, conn)
	b.ReportMetric(took.Seconds(), "s")
	if after.statements >= 0 {
		b.ReportMetric((after.statements-before.statements)/float64(children), "statements/child")
	}
	b.ReportMetric(rssMB(f.hub.Process.Pid), "hub-rss-MB")
}

// BenchmarkAcross: 1,000 runs of a no-op task from one across step (every
// run at once), beside the baseline of the same 1,000 tasks written out as
// an in_parallel step, in the same run: seconds to finish, statements per
// step and hub RSS.
func BenchmarkAcross(b *testing.B) {
	const runs = 1000
	values := make([]string, runs)
	steps := make([]string, runs)
	for i := range values {
		values[i] = fmt.Sprint(i)
		steps[i] = fmt.Sprintf(`{task: t%d, config: {platform: linux, run: {path: "true"}}}`, i)
	}
	for _, v := range []struct{ name, plan string }{
		{"across", `
  - across:
    - var: idx
      values: [` + strings.Join(values, ",") + `]
      max_in_flight: all
    task: noop
    config: {platform: linux, run: {path: "true"}}`},
		{"in_parallel", `
  - in_parallel: [` + strings.Join(steps, ",") + `]`},
	} {
		b.Run(v.name, func(b *testing.B) {
			for b.Loop() {
				f, conn := benchFleet(b)
				f.setPipeline("fan", "jobs:\n- name: out\n  plan:"+v.plan+"\n")
				before := dbCounters(b, conn)
				start := time.Now()
				if out := f.mustFly("trigger-job", "-j", "fan/out", "-w"); !strings.Contains(out, "succeeded") {
					b.Fatalf("the build:\n%.2000s", out)
				}
				took := time.Since(start)
				time.Sleep(1100 * time.Millisecond)
				after := dbCounters(b, conn)
				b.ReportMetric(took.Seconds(), "s")
				if after.statements >= 0 {
					b.ReportMetric((after.statements-before.statements)/runs, "statements/step")
				}
				b.ReportMetric(rssMB(f.hub.Process.Pid), "hub-rss-MB")
			}
		})
	}
}

// benchFleet is a hub and one local spoke, with a read-only connection to
// the hub's database for the figures.
func benchFleet(b *testing.B) (*fleet, *pgx.Conn) {
	f := newFleetOf(b, bin, "", []string{"--build-lease", "15s"})
	f.startSpoke("local-1", f.url)
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret")
	conn, err := pgx.Connect(b.Context(), f.db)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(b.Context()) })
	if _, err := conn.Exec(b.Context(), `SET default_transaction_isolation = 'read committed'`); err != nil {
		b.Fatal(err)
	}
	return f, conn
}

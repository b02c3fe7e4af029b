package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/store"
)

// BenchmarkWebUI measures the UI at scale in Chromium: the dashboard of 240
// pipelines of 10 jobs (2,400), each job with a finished build, signed in
// as admin (first contentful paint and bytes of the page, from the
// browser's performance timings), and a build page whose task printed
// 100,000 lines (from the navigation's start until its log is on the page,
// by the page's clock; the earliest lines wait for a click), and a build
// page while its build streams 100,000 lines (the longest task that held
// the page, and the time beyond 50 ms of all such tasks).
func BenchmarkWebUI(b *testing.B) {
	const pipelines, jobs, lines = 240, 10, 100000
	f := newFleet(b)
	f.startSpoke("bench-ui", f.url)
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret")
	var cfg strings.Builder
	cfg.WriteString("resources:\n- {name: src, type: mock, check_every: never, source: {initial_version: v1}}\njobs:\n")
	for j := range jobs {
		fmt.Fprintf(&cfg, "- name: job-%d\n  plan:\n  - get: src\n", j)
		if j > 0 {
			fmt.Fprintf(&cfg, "    passed: [job-%d]\n", j-1)
		}
		fmt.Fprintf(&cfg, "  - task: t\n    config: {platform: linux, run: {path: \"true\"}}\n")
	}
	c := &api.Client{URL: f.url, Token: f.tokenFrom(f.url)}
	for p := range pipelines {
		hdr := map[string][]string{"Content-Type": {"application/x-yaml"}}
		if _, err := c.Do(b.Context(), "PUT", fmt.Sprintf("/api/v1/teams/main/pipelines/p-%03d/config", p), hdr, []byte(cfg.String()), nil); err != nil {
			b.Fatalf("set pipeline %d: %v", p, err)
		}
	}
	st, err := store.Open(b.Context(), f.db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ps, err := st.Pipelines(b.Context(), 0)
	if err != nil {
		b.Fatal(err)
	}
	var ids []int64
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	states, err := st.JobStates(b.Context(), ids)
	if err != nil {
		b.Fatal(err)
	}
	var records []store.BuildRecord
	for i, j := range states {
		records = append(records, store.BuildRecord{JobID: j.ID, Status: []string{"succeeded", "failed", "errored"}[i%3]})
	}
	if _, err := st.RecordBuilds(b.Context(), records, nil); err != nil {
		b.Fatal(err)
	}
	if len(states) != pipelines*jobs {
		b.Fatalf("%d jobs, want %d", len(states), pipelines*jobs)
	}

	ctx := chromium(b)
	signIn := chromedp.Steps(chromedp.Navigate(f.url+"/login?redirect_uri=/fleet"), chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "admin"), chromedp.SendKeys(chromedp.CSS("#password"), "secret"),
		chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#user")))
	if err := chromedp.Do(ctx, signIn); err != nil {
		b.Fatalf("sign in: %v", err)
	}
	type timing struct {
		FCP   float64 `json:"fcp"`
		Bytes float64 `json:"bytes"`
		Cards int     `json:"cards"`
	}
	b.Run("dashboard-240-pipelines-2400-jobs", func(b *testing.B) {
		var fcp, bytes float64
		n := 0
		for b.Loop() {
			if err := chromedp.Do(ctx, chromedp.Navigate(f.url+"/"), chromedp.WaitVisible(chromedp.CSS(`li.card[data-pipeline="p-239"]`))); err != nil {
				b.Fatal(err)
			}
			t, err := chromedp.Run(ctx, chromedp.Poll[timing](`(() => {
				const p = performance.getEntriesByName("first-contentful-paint")[0];
				const n = performance.getEntriesByType("navigation")[0];
				return p ? {fcp: p.startTime, bytes: n.transferSize || n.encodedBodySize, cards: document.querySelectorAll("li.card").length} : null;
			})()`, chromedp.WithPollingTimeout(time.Minute), chromedp.WithPollingInterval(50*time.Millisecond)))
			if err != nil {
				b.Fatal(err)
			}
			if t.Cards != pipelines {
				b.Fatalf("%d pipelines on the dashboard, want %d", t.Cards, pipelines)
			}
			fcp, bytes, n = fcp+t.FCP, t.Bytes, n+1
		}
		b.ReportMetric(fcp/float64(n), "fcp-ms") // the mean of the loads
		b.ReportMetric(bytes/1024, "page-KiB")
	})

	f.setPipeline("log", fmt.Sprintf(`
jobs:
- name: long
  plan:
  - task: print
    config: {platform: linux, run: {path: seq, args: ["%d"]}}
`, lines))
	if out, code := f.fly("trigger-job", "-j", "log/long", "-w"); code != 0 {
		b.Fatalf("the long build (exit %d): %s", code, out[max(0, len(out)-500):])
	}
	b.Run("build-log-100000-lines", func(b *testing.B) {
		var ms, sum float64
		n := 0
		for b.Loop() {
			// The last page (a hundred thousand lines) goes first, so that
			// its teardown is not counted in this opening.
			if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(f.url+"/teams/main/pipelines/log/jobs/long/builds/1")); err != nil {
				b.Fatal(err)
			}
			if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("steps").dataset.ended === "true"`,
				chromedp.WithPollingTimeout(2*time.Minute), chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
				b.Fatal(err)
			}
			// From the navigation's start to the whole log on the page, by the page's clock.
			shown, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("steps").dataset.shownAt`))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := fmt.Sscan(shown, &ms); err != nil {
				b.Fatalf("shownAt %q: %v", shown, err)
			}
			sum, n = sum+ms, n+1
			last, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`[...document.querySelectorAll(".log")].some(l => l.textContent.endsWith("\n%d\n"))`, lines)))
			if err != nil || !last {
				b.Fatalf("the log does not end with line %d: %v", lines, err)
			}
			// All of it is there on a click.
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("button.earlier").click(), true`)); err != nil {
				b.Fatal(err)
			}
			if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`[...document.querySelectorAll(".log")].some(l => l.textContent.startsWith("1\n2\n3\n"))`,
				chromedp.WithPollingTimeout(time.Minute), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
				b.Fatalf("the earlier lines do not show on a click: %v", err)
			}
		}
		b.ReportMetric(sum/float64(n), "open-ms") // the mean of the openings
	})

	// While a build streams 100,000 lines (1,000 every 50 ms), the page
	// stays responsive: Chromium's long tasks (over 50 ms of script,
	// layout or paint) on the page from its load to the build's end.
	f.setPipeline("stream", `
jobs:
- name: chatty
  plan:
  - task: print
    config:
      platform: linux
      run: {path: sh, args: [-c, "i=1; while [ $i -le 100000 ]; do j=$(expr $i + 999); seq $i $j; i=$(expr $j + 1); sleep 0.05; done"]}
`)
	if _, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (page.AddScriptToEvaluateOnNewDocumentResult, error) {
		return cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `window.longTasks = []; new PerformanceObserver((l) => { for (const e of l.getEntries()) window.longTasks.push(e.duration); }).observe({type: "longtask"});`})
	}); err != nil {
		b.Fatal(err)
	}
	type responsiveness struct {
		Longest, Blocking float64
		Count             int
		Whole             bool
	}
	b.Run("build-log-streaming-100000-lines", func(b *testing.B) {
		var longest, blocking float64
		n := 0
		for b.Loop() {
			var build api.Build
			if _, err := c.Do(b.Context(), "POST", "/api/v1/teams/main/pipelines/stream/jobs/chatty/builds", nil, nil, &build); err != nil {
				b.Fatal(err)
			}
			if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(fmt.Sprintf("%s/builds/%d", f.url, build.ID))); err != nil {
				b.Fatal(err)
			}
			r, err := chromedp.Run(ctx, chromedp.Poll[responsiveness](`document.getElementById("steps").dataset.ended === "true" && (() => {
				const long = window.longTasks || [];
				return {Longest: Math.max(0, ...long), Blocking: long.reduce((a, d) => a + d - 50, 0), Count: long.length,
					Whole: [...document.querySelectorAll(".log")].some(l => l.textContent.endsWith("\n100000\n"))};
			})()`, chromedp.WithPollingTimeout(5*time.Minute), chromedp.WithPollingInterval(100*time.Millisecond)))
			if err != nil {
				b.Fatal(err)
			}
			if !r.Whole {
				b.Fatal("the streamed log does not end with its last line")
			}
			longest, blocking, n = max(longest, r.Longest), blocking+r.Blocking, n+1
		}
		b.ReportMetric(longest, "longest-task-ms")
		b.ReportMetric(blocking/float64(n), "blocking-ms")
	})
}

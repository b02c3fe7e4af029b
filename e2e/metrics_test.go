package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// EnvPrometheus names the variable that holds Prometheus's server (hack/with-prometheus.sh).
const EnvPrometheus = "SWITCHYARD_TEST_PROMETHEUS"

// A real Prometheus scrapes a hub (with its metrics token) and a spoke
// (on its health listener); after the builds, PromQL counts them as
// Concourse's metrics do, and Switchyard's own count placements and the
// spoke's steps. /metrics is the token's and admins' only.
func TestMetricsInPrometheus(t *testing.T) {
	prom := os.Getenv(EnvPrometheus)
	if prom == "" {
		t.Fatalf("%s is not set: run the tests with `make test` or under hack/with-prometheus.sh", EnvPrometheus)
	}
	const token = "scrape-token-for-tests"
	f := newFleetOf(t, bin, "", []string{"--metrics-token", token})
	health := freeAddr(t)
	f.startSpoke("counted", f.url, "--health-listen", health)

	// Who may scrape.
	for _, c := range []struct {
		bearer string
		want   int
	}{{"", http.StatusUnauthorized}, {"not-the-token", http.StatusUnauthorized}, {token, http.StatusOK}, {f.token(), http.StatusOK}} {
		req, _ := http.NewRequest(http.MethodGet, f.url+"/metrics", nil)
		if c.bearer != "" {
			req.Header.Set("Authorization", "Bearer "+c.bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("scrape with bearer %q: %s, want %d: %s", c.bearer, resp.Status, c.want, body)
		}
		if c.want == http.StatusOK && !strings.Contains(string(body), "concourse_builds_started_total") {
			t.Errorf("scrape with bearer %q has no concourse_builds_started_total", c.bearer)
		}
	}

	dir := t.TempDir()
	config := fmt.Sprintf(`
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
- job_name: hub
  authorization: {credentials: %q}
  static_configs: [{targets: [%q]}]
- job_name: spoke
  static_configs: [{targets: [%q]}]
`, token, f.listen, health)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	web := freeAddr(t)
	startServer(t, "prometheus", dir, exec.Command(prom, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+web))

	f.setPipeline("counted", `
jobs:
- name: passes
  plan:
  - task: ok
    config: {platform: linux, run: {path: sh, args: [-c, "echo fine"]}}
- name: fails
  plan:
  - task: broken
    config: {platform: linux, run: {path: sh, args: [-c, "exit 3"]}}
`)
	const n = 3
	for i := 0; i < n; i++ {
		f.mustFly("trigger-job", "-j", "counted/passes", "-w")
	}
	if out, code := f.fly("trigger-job", "-j", "counted/fails", "-w"); code == 0 {
		t.Fatalf("the failing job passed:\n%s", out)
	}

	for query, want := range map[string]float64{
		`up{job="hub"}`:   1,
		`up{job="spoke"}`: 1,
		// Prometheus keeps its own job label: the metric's is exported_job.
		`concourse_builds_finished{team="main",pipeline="counted",exported_job="passes",status="succeeded"}`: n,
		`concourse_builds_finished{team="main",pipeline="counted",exported_job="fails",status="failed"}`:     1,
		`concourse_builds_succeeded_total`:                                                                           n,
		`concourse_builds_failed_total`:                                                                              1,
		`concourse_builds_duration_seconds_count{exported_job="passes"}`:                                             n,
		`concourse_builds_latest_completed_build_status{jobName="fails"}`:                                            1,
		`concourse_workers_registered{state="running"}`:                                                              1,
		`switchyard_placement_decisions_total{outcome="placed"}`:                                                     n + 1,
		`switchyard_spoke_steps_total{job="spoke",kind="task",result="succeeded"}`:                                   n,
		`switchyard_spoke_steps_total{job="spoke",kind="task",result="failed"}`:                                      1,
		`sum(concourse_http_responses_duration_seconds_count{route=~"POST /api/v1/teams/.*/jobs/\\{job\\}/builds"})`: n + 1,
	} {
		promWait(t, web, query, want)
	}

	// No label holds a build's or a step's id: the series stay bounded.
	resp, err := http.Get("http://" + web + "/api/v1/labels")
	if err != nil {
		t.Fatal(err)
	}
	var labels struct {
		Data []string `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&labels)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range labels.Data {
		if strings.Contains(l, "build") || strings.Contains(l, "step_id") {
			t.Errorf("a metric has the label %q", l)
		}
	}
}

// promWait waits until a PromQL query returns one sample of value want.
func promWait(t *testing.T, web, query string, want float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var last string
	for ctx.Err() == nil {
		resp, err := http.Get("http://" + web + "/api/v1/query?query=" + url.QueryEscape(query))
		if err == nil {
			var body struct {
				Data struct {
					Result []struct {
						Value [2]any `json:"value"`
					} `json:"result"`
				} `json:"data"`
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(raw)
			if json.Unmarshal(raw, &body) == nil && len(body.Data.Result) == 1 {
				if s, ok := body.Data.Result[0].Value[1].(string); ok {
					if v, err := strconv.ParseFloat(s, 64); err == nil && v == want {
						return
					}
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Errorf("%s: want %v, Prometheus says %s", query, want, last)
}

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// EnvJaeger names the variable that holds the Jaeger binary (hack/with-jaeger.sh).
const EnvJaeger = "SWITCHYARD_TEST_JAEGER"

// EnvJaegerBuild is PID:LOG of the build of Jaeger that hack/with-jaeger.sh
// runs beside the tests, when it had none built.
const EnvJaegerBuild = "SWITCHYARD_TEST_JAEGER_BUILD"

// awaitBuild waits for a binary that a build beside the tests (build is
// PID:LOG, or empty) is making, and fails with the build's log if it ends
// without it.
func awaitBuild(t testing.TB, bin, build string) {
	t.Helper()
	pid, logFile, _ := strings.Cut(build, ":")
	n, _ := strconv.Atoi(pid)
	deadline := time.Now().Add(40 * time.Minute)
	for {
		if fi, err := os.Stat(bin); err == nil && fi.Mode()&0o111 != 0 {
			return
		}
		if n <= 0 || !alive(n) {
			// No build, or it ended: one more look, for a build that just finished.
			time.Sleep(time.Second)
			if fi, err := os.Stat(bin); err == nil && fi.Mode()&0o111 != 0 {
				return
			}
			data, _ := os.ReadFile(logFile)
			t.Fatalf("%s is not there and nothing builds it; the build's log:\n%s", bin, tail(string(data), 20))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not built in 40 minutes", bin)
		}
		time.Sleep(2 * time.Second)
	}
}

// alive tells whether process pid runs (a zombie does not).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// jaeger is a real trace backend for one test: Jaeger's all-in-one binary
// with in-memory storage, receiving OTLP over HTTP, read back through its
// query API.
type jaeger struct {
	t     testing.TB
	otlp  string // http://ADDR of the OTLP receiver
	query string // http://ADDR of the query API
}

func newJaeger(t testing.TB) *jaeger {
	t.Helper()
	bin := os.Getenv(EnvJaeger)
	if bin == "" {
		t.Fatalf("%s is not set: run the tests with `make test` or under hack/with-jaeger.sh", EnvJaeger)
	}
	awaitBuild(t, bin, os.Getenv(EnvJaegerBuild))
	j := &jaeger{t: t, otlp: "http://" + freeAddr(t), query: "http://" + freeAddr(t)}
	dir := t.TempDir()
	config := fmt.Sprintf(`
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces: {receivers: [otlp], processors: [batch], exporters: [jaeger_storage_exporter]}
  telemetry:
    metrics: {level: none}
    traces: {level: none}
    logs: {level: warn}
extensions:
  jaeger_query:
    storage: {traces: mem}
    http: {endpoint: %q}
    grpc: {endpoint: %q}
  jaeger_storage:
    backends:
      mem: {memory: {max_traces: 10000}}
receivers:
  otlp:
    protocols:
      http: {endpoint: %q}
processors:
  batch: {timeout: 100ms}
exporters:
  jaeger_storage_exporter: {trace_storage: mem}
`, strings.TrimPrefix(j.query, "http://"), freeAddr(t), strings.TrimPrefix(j.otlp, "http://"))
	file := filepath.Join(dir, "jaeger.yaml")
	if err := os.WriteFile(file, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", file)
	cmd.Dir = dir
	startServer(t, "jaeger", dir, cmd)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		if resp, err := http.Get(j.query + "/api/services"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return j
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("jaeger did not start")
	return nil
}

// env is what a process needs to send Jaeger its traces, flushed fast.
func (j *jaeger) env() []string {
	return []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + j.otlp, "OTEL_BSP_SCHEDULE_DELAY=100"}
}

// span is a span as Jaeger's query API shows it.
type span struct {
	SpanID     string `json:"spanID"`
	Operation  string `json:"operationName"`
	References []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
	ProcessID string `json:"processID"`
	Service   string `json:"-"`
}

func (s span) parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

func (s span) tag(key string) string {
	for _, t := range s.Tags {
		if t.Key == key {
			return fmt.Sprint(t.Value)
		}
	}
	return ""
}

// trace reads a trace's spans, waiting until every operation in want has
// arrived.
func (j *jaeger) trace(traceID string, want ...string) []span {
	j.t.Helper()
	deadline := time.Now().Add(time.Minute)
	var spans []span
	for {
		spans = j.read(traceID)
		have := map[string]bool{}
		for _, s := range spans {
			have[s.Operation] = true
		}
		missing := []string{}
		for _, w := range want {
			if !have[w] {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			return spans
		}
		if time.Now().After(deadline) {
			var names []string
			for _, s := range spans {
				names = append(names, s.Operation)
			}
			j.t.Fatalf("trace %s lacks %q; it has %q", traceID, missing, names)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (j *jaeger) read(traceID string) []span {
	j.t.Helper()
	resp, err := http.Get(j.query + "/api/traces/" + traceID)
	if err != nil {
		j.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil
	}
	var body struct {
		Data []struct {
			Spans     []span `json:"spans"`
			Processes map[string]struct {
				ServiceName string `json:"serviceName"`
			} `json:"processes"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		j.t.Fatalf("read trace %s: %v", traceID, err)
	}
	var out []span
	for _, d := range body.Data {
		for _, s := range d.Spans {
			s.Service = d.Processes[s.ProcessID].ServiceName
			out = append(out, s)
		}
	}
	return out
}

// A two-step build across two spokes is one trace in a real Jaeger, from
// the trigger request's traceparent to the task's own span, made from the
// TRACEPARENT it was given; a hub killed mid-build is followed by one that
// continues the same trace; and the log lines about the build carry its
// trace.
func TestTracesInJaeger(t *testing.T) {
	j := newJaeger(t)
	f := newFleetOf(t, bin, "", nil, j.env()...)
	f.spokeEnv = j.env()
	f.startSpoke("left", f.url, "--tag", "left")
	f.startSpoke("right", f.url, "--tag", "right")
	gate := filepath.Join(t.TempDir(), "gate")
	// The task sends its own span to Jaeger over OTLP/HTTP, a child of the
	// TRACEPARENT in its environment.
	emit := fmt.Sprintf(`set -e
trace=$(echo "$TRACEPARENT" | cut -d- -f2); parent=$(echo "$TRACEPARENT" | cut -d- -f3); now=$(date +%%s%%N)
curl -sf -X POST %s/v1/traces -H 'Content-Type: application/json' -d '{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my-task"}}]},"scopeSpans":[{"spans":[{"traceId":"'$trace'","spanId":"00000000000000aa","parentSpanId":"'$parent'","name":"task says hello","kind":1,"startTimeUnixNano":"'$now'","endTimeUnixNano":"'$now'"}]}]}]}'
cat blob/data`, j.otlp)
	f.setPipeline("traced", fmt.Sprintf(`
jobs:
- name: two-spokes
  plan:
  - task: make
    tags: [left]
    config:
      platform: linux
      outputs: [{name: blob}]
      run: {path: sh, args: [-c, "echo carried > blob/data"]}
  - task: gate
    tags: [left]
    config:
      platform: linux
      run: {path: sh, args: [-c, "until [ -e %s ]; do sleep 0.1; done"]}
  - task: use
    tags: [right]
    config:
      platform: linux
      inputs: [{name: blob}]
      run: {path: sh, args: [-c, %q]}
`, gate, emit))
	f.mustFly("set-policy", "-p", "placement", "-f", "../examples/policies/placement.rego")

	// Triggered through the API with a traceparent, as a caller that traces
	// would: the build's trace continues the caller's.
	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0736aa", "00f067aa0ba902b7"
	req, _ := http.NewRequest(http.MethodPost, f.url+"/api/v1/teams/main/pipelines/traced/jobs/two-spokes/builds", nil)
	req.Header.Set("Authorization", "Bearer "+f.token())
	req.Header.Set("Traceparent", "00-"+traceID+"-"+callerSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var build struct {
		ID int64 `json:"id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&build)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("trigger: %s, %v", resp.Status, err)
	}

	// Once the first step's span is in, the hub is killed as the gate
	// runs; a new hub takes the build over and ends it.
	j.trace(traceID, "make", "upload artifact")
	f.killHub()
	f.startHub()
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := f.mustFly("watch", "-j", "traced/two-spokes", "-b", "1"); !strings.Contains(out, "carried") || !strings.Contains(out, "succeeded") {
		t.Fatalf("build did not succeed:\n%s", tail(out, 20))
	}

	root := "RUN traced/two-spokes"
	spans := j.trace(traceID, root, "make", "gate", "use", "placement", "policy placement", "resolve inputs",
		"run on spoke left", "run on spoke right", "upload artifact", "download artifact", "task says hello")
	byID := map[string]span{}
	byName := map[string][]span{}
	for _, s := range spans {
		byID[s.SpanID] = s
		byName[s.Operation] = append(byName[s.Operation], s)
	}
	one := func(name string) span {
		t.Helper()
		if len(byName[name]) != 1 {
			t.Fatalf("want one %q span, have %d", name, len(byName[name]))
		}
		return byName[name][0]
	}
	parentOf := func(s span) string { return byID[s.parent()].Operation }

	r := one(root)
	if r.parent() != callerSpan {
		t.Errorf("the build's span is a child of %q, want the trigger request's %s", r.parent(), callerSpan)
	}
	for key, want := range map[string]string{"cicd.pipeline.name": "traced/two-spokes", "cicd.pipeline.run.id": strconv.FormatInt(build.ID, 10),
		"cicd.pipeline.result": "success", "switchyard.team": "main", "service": "switchyard-hub"} {
		got := r.tag(key)
		if key == "service" {
			got = r.Service
		}
		if got != want {
			t.Errorf("build span: %s = %q, want %q", key, got, want)
		}
	}
	if url := r.tag("cicd.pipeline.run.url.full"); !strings.HasSuffix(url, fmt.Sprintf("/builds/%d", build.ID)) {
		t.Errorf("build span's URL is %q", url)
	}
	for name, spoke := range map[string]string{"make": "left", "gate": "left", "use": "right"} {
		s := one(name)
		if parentOf(s) != root {
			t.Errorf("step %s is a child of %q, want the build", name, parentOf(s))
		}
		if got := s.tag("cicd.pipeline.task.run.result"); got != "success" {
			t.Errorf("step %s: result %q", name, got)
		}
		if got := s.tag("cicd.worker.name"); got != spoke && name != "gate" { // gate ended on the second hub, which did not place it
			t.Errorf("step %s: worker %q, want %s", name, got, spoke)
		}
		if s.tag("cicd.pipeline.task.run.id") == "" {
			t.Errorf("step %s has no task run id", name)
		}
	}
	for _, p := range byName["placement"] {
		if parent := parentOf(p); parent != "make" && parent != "gate" && parent != "use" {
			t.Errorf("a placement span is a child of %q, want a step's", parent)
		}
	}
	for _, p := range byName["policy placement"] {
		if parentOf(p) != "placement" {
			t.Errorf("a policy's evaluation is a child of %q, want a placement's", parentOf(p))
		}
	}
	if s := one("resolve inputs"); parentOf(s) != root {
		t.Errorf("input resolution is a child of %q, want the build", parentOf(s))
	}
	for name, want := range map[string]string{"run on spoke left": "make", "run on spoke right": "use", "task says hello": "run on spoke right",
		"upload artifact": "run on spoke left", "download artifact": "run on spoke right"} {
		for _, s := range byName[name] {
			if parentOf(s) != want && !(name == "run on spoke left" && parentOf(s) == "gate") {
				t.Errorf("%s is a child of %q, want %q", name, parentOf(s), want)
			}
		}
	}
	if n, err := strconv.Atoi(one("download artifact").tag("switchyard.artifact.bytes")); err != nil || n <= 0 {
		t.Errorf("the download says it moved %d bytes (%v)", n, err)
	}
	if s := one("task says hello"); s.Service != "my-task" {
		t.Errorf("the task's span came from %q", s.Service)
	}

	// The hubs' and the spokes' lines about the build carry its trace.
	for _, log := range []string{"hub.log", "spoke-right.log"} {
		if !logJoins(t, filepath.Join(f.dir, log), traceID, build.ID) {
			t.Errorf("%s has no line with the build's id and trace_id %s", log, traceID)
		}
	}
}

// logJoins tells whether a JSON log has a line about build id with the trace
// id and a span id (and a step id, for a spoke's).
func logJoins(t *testing.T, file, traceID string, id int64) bool {
	t.Helper()
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		if line["build_id"] == float64(id) && line["trace_id"] == traceID && line["span_id"] != nil {
			if line["component"] == "spoke" && line["step_id"] == nil {
				continue
			}
			return true
		}
	}
	return false
}

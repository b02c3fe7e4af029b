package e2e

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard-ci/switchyard/api"
)

const secretValue = "hunter2-s3cr3t-Value"

// A task that prints a secret raw, in base64, in hex, URL-encoded and split
// across writes shows ((redacted)) only, through fly watch and the events
// API; the value is nowhere in the database. A var nothing defines, and a
// secret an untrusted job asks for, error the step before it is placed.
func TestSecrets(t *testing.T) {
	f := newFleetOf(t, bin, "", []string{
		"--dummy-creds-var", "main/token=" + secretValue,
		"--dummy-creds-var", "main/p/scoped={user: bob, pass: " + secretValue + "-2}",
		"--dummy-creds-var", "blue/blue-only=blue-" + secretValue,
		"--encryption-key", "e2e-encryption-key-of-32-bytes!!",
		"--dummy-creds-var", "main/hook=hook-" + secretValue,
	})
	f.startSpoke("local-1", f.url)
	task := func(params, script string) string {
		return fmt.Sprintf("{task: t, config: {platform: linux, params: %s, run: {path: sh, args: [-c, %q]}}}", params, script)
	}
	f.setPipeline("p", fmt.Sprintf(`
resources:
- name: hooked
  type: mock
  source: {}
  webhook_token: ((hook))
var_sources:
- name: vs
  type: dummy
  config: {vars: {greeting: "from-var-source-((token))"}}
jobs:
- name: var-source
  plan:
  - {get: hooked, trigger: false}
  - %s
- name: leak
  plan:
  - %s
- name: undefined
  plan:
  - %s
- name: untrusted
  plan:
  - %s
- name: static
  plan:
  - %s
- name: cross-team
  plan:
  - %s
`,
		task("{G: ((vs:greeting))}", `echo "vs $G"`),
		task("{TOKEN: ((token)), USER: ((scoped.user)), PASS: ((scoped.pass))}", `
echo "raw $TOKEN"
printf '%s' "$TOKEN" | base64
printf '%s' "$TOKEN" | od -An -tx1 | tr -d ' \n'; echo
printf '%s' "$TOKEN" | head -c 7; sleep 0.3; printf '%s\n' "$TOKEN" | tail -c +8
echo "user $USER pass $PASS"`),
		task("{X: ((nope)), Y: ((also-nope))}", "echo should not run"),
		task("{TOKEN: ((token))}", "echo should not run"),
		task("{GREETING: ((greeting))}", `echo "static $GREETING"`),
		task("{X: ((blue-only))}", "echo should not run"),
	))

	out := f.mustFly("trigger-job", "-j", "p/leak", "-w")
	encodings := []string{secretValue, base64.StdEncoding.EncodeToString([]byte(secretValue)), hex.EncodeToString([]byte(secretValue)), url.QueryEscape(secretValue)}
	for _, leak := range encodings {
		if strings.Contains(out, leak) {
			t.Errorf("fly watch shows the secret (%q):\n%s", leak, out)
		}
	}
	for _, want := range []string{"raw ((redacted))", "((redacted))\n((redacted))\n((redacted))\n", "user ((redacted)) pass ((redacted))", "succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("fly watch lacks %q:\n%s", want, out)
		}
	}
	var build api.Build // its id, which need not be 1
	if err := json.Unmarshal([]byte(f.asAdminGet("/api/v1/teams/main/pipelines/p/jobs/leak/builds/1")), &build); err != nil {
		t.Fatal(err)
	}
	events := f.asAdminGet(fmt.Sprintf("/api/v1/builds/%d/events", build.ID))
	if !strings.Contains(events, "((redacted))") {
		t.Errorf("the events API lacks ((redacted)):\n%s", events)
	}
	for _, leak := range encodings {
		if strings.Contains(events, leak) {
			t.Errorf("the events API shows the secret (%q)", leak)
		}
	}

	if out := f.mustFly("trigger-job", "-j", "p/var-source", "-w"); !strings.Contains(out, "vs ((redacted))") || strings.Contains(out, "from-var-source") {
		t.Errorf("a var source's value, built from the credential manager's:\n%s", out)
	}
	if out := f.mustFly("get-pipeline", "-p", "p"); !strings.Contains(out, "((token))") || strings.Contains(out, secretValue) {
		t.Errorf("get-pipeline shows values, not references:\n%s", out)
	}

	// A webhook token kept as a secret is resolved at the call.
	hook := f.url + "/api/v1/teams/main/pipelines/p/resources/hooked/check/webhook?webhook_token="
	for token, want := range map[string]int{"hook-" + secretValue: http.StatusCreated, "((hook))": http.StatusUnauthorized, "": http.StatusUnauthorized} {
		resp, err := http.Post(hook+url.QueryEscape(token), "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("webhook with token %q: %d, want %d", token, resp.StatusCode, want)
		}
	}

	// set-pipeline --check-creds refuses what resolves from nothing.
	checked := filepath.Join(f.dir, "checked.yml")
	if err := os.WriteFile(checked, []byte("jobs:\n- name: j\n  plan:\n  - "+task("{A: ((token)), B: ((missing-one))}", "true")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := f.fly("set-pipeline", "-n", "-p", "checked", "-c", checked, "--check-creds")
	if code == 0 || !strings.Contains(out, "credential validation failed") || !strings.Contains(out, "undefined vars: missing-one") {
		t.Errorf("--check-creds with an undefined var: exit %d:\n%s", code, out)
	}
	f.mustFly("set-pipeline", "-n", "-p", "checked", "-c", checked, "--check-creds", "-v", "missing-one=now-static")

	out, code = f.fly("trigger-job", "-j", "p/undefined", "-w")
	if code == 0 || !strings.Contains(out, "undefined vars: also-nope, nope") || strings.Contains(out, "should not run") || strings.Contains(out, "selected worker") {
		t.Errorf("a build with undefined vars: exit %d:\n%s", code, out)
	}

	f.mustFly("untrust-job", "-j", "p/untrusted")
	out, code = f.fly("trigger-job", "-j", "p/untrusted", "-w")
	if code == 0 || !strings.Contains(out, "untrusted, so its builds get no secrets") || strings.Contains(out, "selected worker") {
		t.Errorf("an untrusted job's secret: exit %d:\n%s", code, out)
	}

	out, code = f.fly("trigger-job", "-j", "p/cross-team", "-w")
	if code == 0 || !strings.Contains(out, "undefined vars: blue-only") {
		t.Errorf("team main read team blue's secret: exit %d:\n%s", code, out)
	}

	// Static vars (fly set-pipeline -v) still work, in trusted and untrusted jobs.
	f.mustFly("set-pipeline", "-n", "-p", "p", "-c", f.dir+"/p.yml", "-v", "greeting=hello-static")
	f.mustFly("untrust-job", "-j", "p/static")
	if out := f.mustFly("trigger-job", "-j", "p/static", "-w"); !strings.Contains(out, "static hello-static") {
		t.Errorf("a static var in an untrusted job:\n%s", out)
	}

	// Configs rest sealed: the static var is in no stored config or plan.
	conn, err := pgx.Connect(context.Background(), f.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var configs string
	if err := conn.QueryRow(context.Background(), `SELECT string_agg(config::TEXT, ' ') || (SELECT string_agg(COALESCE(plan::TEXT, ''), ' ') FROM builds)
		FROM pipelines`).Scan(&configs); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(configs, "hello-static") || !strings.Contains(configs, `"enc:v1:`) {
		t.Errorf("configs and plans rest in the clear: %.500s", configs)
	}

	if dump := dumpDatabase(t, f.db); strings.Contains(dump, secretValue) {
		i := strings.Index(dump, secretValue)
		t.Errorf("the database holds the secret: ...%s...", dump[max(0, i-200):i+len(secretValue)])
	}
}

// dumpDatabase reads every row of every table as text.
func dumpDatabase(t *testing.T, dbURL string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, tbl := range tables {
		var text *string
		if err := conn.QueryRow(ctx, fmt.Sprintf(`SELECT string_agg(t::text, E'\n') FROM %s t`, pgx.Identifier{tbl}.Sanitize())).Scan(&text); err != nil {
			t.Fatal(err)
		}
		if text != nil {
			b.WriteString(*text)
		}
	}
	if b.Len() == 0 {
		t.Fatal("the database dump is empty")
	}
	return b.String()
}

// asAdminGet reads a route as admin, to its end (an event stream ends with
// its build).
func (f *fleet) asAdminGet(path string) string {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+f.token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		f.t.Fatalf("GET %s: %d %v\n%s", path, resp.StatusCode, err, body)
	}
	return string(body)
}

package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/auth"
	"github.com/switchyard-ci/switchyard/hub/notify"
	"github.com/switchyard-ci/switchyard/hub/server"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
)

type noWaker struct{}

func (noWaker) Wake(int64)      {}
func (noWaker) WakeAbort(int64) {}
func (noWaker) WakeScheduler()  {}

// newHub serves the API over a real store with three users: admin (owns main),
// viewer (a viewer of main) and outsider (no role).
func newHub(t *testing.T) (*httptest.Server, func(user string) *api.Client) {
	t.Helper()
	ctx := t.Context()
	hs := serve(t, storetest.New(t), []string{"admin", "viewer", "outsider"}, "admin")
	client := func(user string) *api.Client {
		c := &api.Client{URL: hs.URL}
		if user == "" {
			return c
		}
		c.Token = login(t, hs.URL, user)
		return c
	}
	// Make viewer a viewer of main.
	teamAuth := api.Team{Auth: api.TeamAuth{"owner": {Users: []string{"local:admin"}}, "viewer": {Users: []string{"local:viewer"}}}}
	if _, err := client("admin").Do(ctx, "PUT", "/api/v1/teams/main", nil, teamAuth, nil); err != nil {
		t.Fatal(err)
	}
	return hs, client
}

// serve starts a hub replica on st whose users (each with password pw)
// sign in locally, with main's owners.
func serve(t *testing.T, st *store.Store, users []string, owners ...string) *httptest.Server {
	t.Helper()
	local := auth.Users{}
	for _, u := range users {
		_ = local.Add(u + ":pw")
	}
	srv, err := server.New(t.Context(), server.Config{Users: local, MainTeamUsers: owners}, st, noWaker{}, notify.New(),
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return hs
}

// login takes a token for user (password pw) through the password grant.
func login(t *testing.T, hubURL, user string) string {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {"pw"}}
	req, _ := http.NewRequest("POST", hubURL+"/sky/issuer/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("fly", "Zmx5")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok api.Token
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token for %s: %v", user, err)
	}
	return tok.AccessToken
}

const pipelineYAML = `
resources:
- {name: r, type: mock, source: {}}
jobs:
- name: j
  plan: [{get: r}]
`

func TestAccess(t *testing.T) {
	ctx := t.Context()
	_, client := newHub(t)
	admin := client("admin")
	if _, err := admin.Do(ctx, "PUT", "/api/v1/teams/main/pipelines/p/config", http.Header{"Content-Type": {"application/x-yaml"}}, []byte(pipelineYAML), nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		user, method, path string
		status             int
	}{
		{"", "GET", "/api/v1/info", 200},
		{"", "GET", "/api/v1/user", 401},
		{"", "GET", "/api/v1/teams/main/pipelines/p/config", 401},
		{"", "GET", "/api/v1/teams/main/pipelines/p", 401}, // not public
		{"", "PUT", "/api/v1/teams/main/pipelines/p/pause", 401},
		{"outsider", "GET", "/api/v1/teams/main/pipelines/p/config", 403},
		{"outsider", "GET", "/api/v1/teams/main/pipelines/nope", 404},        // pipeline-read: 404 first (CONCOURSE.md 1.6)
		{"outsider", "GET", "/api/v1/teams/main/pipelines/nope/config", 403}, // team-authorized: access before 404
		{"outsider", "POST", "/api/v1/teams/main/pipelines/p/jobs/j/builds", 403},
		{"viewer", "GET", "/api/v1/teams/main/pipelines/p/config", 200},
		{"viewer", "GET", "/api/v1/teams/main/pipelines/p/jobs", 200},
		{"viewer", "PUT", "/api/v1/teams/main/pipelines/p/pause", 403},
		{"viewer", "POST", "/api/v1/teams/main/pipelines/p/jobs/j/builds", 403},
		{"viewer", "DELETE", "/api/v1/teams/main/pipelines/p", 403},
		{"viewer", "GET", "/api/v1/teams/main/pipelines/nope", 404},
		{"admin", "PUT", "/api/v1/teams/main/pipelines/p/pause", 200},
		{"admin", "GET", "/api/v1/teams/nope/pipelines/p", 404}, // the team is missing, not the pipeline
		{"admin", "GET", "/api/v1/teams/nope/pipelines/p/jobs/j", 404},
		{"admin", "GET", "/api/v1/builds/abc", 400},
		{"admin", "GET", "/api/v1/builds/999", 404},
		{"outsider", "GET", "/api/v1/teams/main/containers", 403},
		{"viewer", "GET", "/api/v1/teams/main/containers", 200},
		{"viewer", "GET", "/api/v1/teams/main/containers?build_id=x", 400},
		{"viewer", "GET", "/api/v1/teams/main/containers/42", 404},
		{"viewer", "GET", "/api/v1/teams/main/containers/42/hijack", 403}, // intercept needs a member
		{"admin", "GET", "/api/v1/teams/main/containers/42/hijack", 404},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, admin.URL+tt.path, nil)
		if tt.user != "" {
			req.Header.Set("Authorization", "Bearer "+client(tt.user).Token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s as %q: %d %s, want %d", tt.method, tt.path, tt.user, resp.StatusCode, body, tt.status)
		}
		if resp.StatusCode >= 400 && !json.Valid(body) {
			t.Errorf("%s %s: error body is not JSON: %s", tt.method, tt.path, body)
		}
		if strings.Contains(tt.path, "/teams/nope/") && !strings.Contains(string(body), "team nope") {
			t.Errorf("%s %s: %s, want it to name the missing team", tt.method, tt.path, body)
		}
	}
	req, _ := http.NewRequest("GET", admin.URL+"/api/v1/info", nil)
	req.Header.Set("Authorization", "Bearer forged.token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("info with an invalid token: %d, want 401", resp.StatusCode)
	}
}

func TestConfigVersions(t *testing.T) {
	ctx := t.Context()
	_, client := newHub(t)
	c := client("admin")
	yaml := http.Header{"Content-Type": {"application/x-yaml"}}
	res, err := c.Do(ctx, "PUT", "/api/v1/teams/main/pipelines/p/config", yaml, []byte(pipelineYAML), nil)
	if err != nil || res.Status != 201 || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("create: %v %+v", err, res)
	}
	var cfg api.ConfigResponse
	res, err = c.Do(ctx, "GET", "/api/v1/teams/main/pipelines/p/config", nil, nil, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	version := res.Header.Get("X-Concourse-Config-Version")
	if version == "" || !strings.Contains(string(cfg.Config), `"name":"j"`) {
		t.Fatalf("config %s version %q", cfg.Config, version)
	}
	hdr := http.Header{"Content-Type": {"application/x-yaml"}, "X-Concourse-Config-Version": {version}}
	if res, err = c.Do(ctx, "PUT", "/api/v1/teams/main/pipelines/p/config", hdr, []byte(pipelineYAML), nil); err != nil || res.Status != 200 {
		t.Fatalf("update: %v %+v", err, res)
	}
	// The same version again is stale now: Concourse answers 500 with this text.
	res, _ = c.Do(ctx, "PUT", "/api/v1/teams/main/pipelines/p/config", hdr, []byte(pipelineYAML), nil)
	if res.Status != 500 || !strings.Contains(string(res.Body), "comparison with existing config failed") {
		t.Errorf("stale save: %d %s", res.Status, res.Body)
	}
	// An invalid config is a 400 listing the problems, and changes nothing.
	res, err = c.Do(ctx, "PUT", "/api/v1/teams/main/pipelines/p/config", yaml, []byte("jobs:\n- name: j\n  plan: [{get: nope}]\n"), nil)
	var bad *api.BadRequestError
	if res.Status != 400 || !errorsAs(err, &bad) || !strings.Contains(bad.Error(), `resource "nope" does not exist`) {
		t.Errorf("invalid config: %d %s", res.Status, res.Body)
	}
	if res, _ = c.Do(ctx, "PUT", "/api/v1/teams/main/pipelines/p/config", http.Header{"Content-Type": {"text/plain"}}, []byte(pipelineYAML), nil); res.Status != 415 {
		t.Errorf("wrong content type: %d", res.Status)
	}
}

// A build is readable by its team's viewers, and by anyone once its pipeline
// is exposed; its abort needs a pipeline-operator either way.
// pipelineWithBuild sets main's pipeline p (pipelineYAML) and triggers its
// job j once.
func pipelineWithBuild(t *testing.T, admin *api.Client) api.Build {
	t.Helper()
	ctx := t.Context()
	if _, err := admin.Do(ctx, "PUT", "/api/v1/teams/main/pipelines/p/config", http.Header{"Content-Type": {"application/x-yaml"}}, []byte(pipelineYAML), nil); err != nil {
		t.Fatal(err)
	}
	var b api.Build
	if _, err := admin.Do(ctx, "POST", "/api/v1/teams/main/pipelines/p/jobs/j/builds", nil, nil, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBuildAccess(t *testing.T) {
	ctx := t.Context()
	_, client := newHub(t)
	admin := client("admin")
	b := pipelineWithBuild(t, admin)
	path := fmt.Sprintf("/api/v1/builds/%d", b.ID)
	status := func(user, method, path string) int {
		req, _ := http.NewRequest(method, admin.URL+path, nil)
		if user != "" {
			req.Header.Set("Authorization", "Bearer "+client(user).Token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tt := range []struct {
		user   string
		expose bool
		method string
		path   string
		want   int
	}{
		{"", false, "GET", path, 401},
		{"outsider", false, "GET", path, 403},
		{"viewer", false, "GET", path, 200},
		{"", true, "GET", path, 200},
		{"outsider", true, "GET", path, 200},
		{"outsider", true, "PUT", path + "/abort", 403},
		{"viewer", true, "PUT", path + "/abort", 403},
		// What the build did is shown to outsiders only when its job is
		// public too (Concourse's rule), not because its pipeline is.
		{"", true, "GET", path + "/events", 401},
		{"outsider", true, "GET", path + "/events", 403},
		{"", true, "GET", path + "/preparation", 401},
		{"", true, "GET", path + "/artifacts", 401},
		{"", true, "GET", path + "/placement", 401},
		{"viewer", false, "GET", path + "/events", 200},
	} {
		action := "/hide"
		if tt.expose {
			action = "/expose"
		}
		if _, err := admin.Do(ctx, "PUT", "/api/v1/teams/main/pipelines/p"+action, nil, nil, nil); err != nil {
			t.Fatal(err)
		}
		if got := status(tt.user, tt.method, tt.path); got != tt.want {
			t.Errorf("%s %s as %q (exposed %v): %d, want %d", tt.method, tt.path, tt.user, tt.expose, got, tt.want)
		}
	}
}

// A public job's builds show their events to anyone once the pipeline is
// exposed, and to no one outside the team before.
func TestPublicJobBuildEvents(t *testing.T) {
	ctx := t.Context()
	hs, client := newHub(t)
	admin := client("admin")
	public := strings.Replace(pipelineYAML, "- name: j\n", "- name: j\n  public: true\n", 1)
	if _, err := admin.Do(ctx, "PUT", "/api/v1/teams/main/pipelines/p/config", http.Header{"Content-Type": {"application/x-yaml"}}, []byte(public), nil); err != nil {
		t.Fatal(err)
	}
	var b api.Build
	if _, err := admin.Do(ctx, "POST", "/api/v1/teams/main/pipelines/p/jobs/j/builds", nil, nil, &b); err != nil {
		t.Fatal(err)
	}
	get := func() int {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/api/v1/builds/%d/preparation", hs.URL, b.ID), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(); got != 401 {
		t.Errorf("a hidden pipeline's public job: %d, want 401", got)
	}
	if _, err := admin.Do(ctx, "PUT", "/api/v1/teams/main/pipelines/p/expose", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := get(); got != 200 {
		t.Errorf("an exposed pipeline's public job: %d, want 200", got)
	}
}

// Names no one can have are refused with the rule, before the store sees
// them (a NUL made PostgreSQL fail with a 500).
func TestHostileNamesInPaths(t *testing.T) {
	ctx := t.Context()
	hs, client := newHub(t)
	admin := client("admin")
	for _, path := range []string{
		"/api/v1/teams/main/pipelines/a%00b/config",
		"/api/v1/teams/main/pipelines/a%2Fb/config",
		"/api/v1/teams/main/pipelines/" + strings.Repeat("x", 5000) + "/config",
		"/api/v1/teams/ma%00in/pipelines/p/config",
		"/api/v1/teams/main/pipelines/p/jobs/j%00/pause",
		"/api/v1/teams/main/pipelines/p/resources/..%2F..%2Fr/pin_comment",
	} {
		for _, method := range []string{"GET", "PUT"} {
			if method == "GET" && !strings.HasSuffix(path, "/config") {
				continue
			}
			req, _ := http.NewRequestWithContext(ctx, method, hs.URL+path, strings.NewReader(pipelineYAML))
			req.Header.Set("Authorization", "Bearer "+admin.Token)
			req.Header.Set("Content-Type", "application/x-yaml")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 400 || !strings.Contains(string(body), "name") {
				t.Errorf("%s %.80s: %d %s, want 400 with the rule", method, path, resp.StatusCode, body)
			}
		}
	}
	_, err := admin.Do(ctx, "PUT", "/api/v1/teams/main/pipelines/p/config", http.Header{"Content-Type": {"application/x-yaml"}}, []byte(pipelineYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"..", "a/b", strings.Repeat("y", 300)} {
		if _, err := admin.Do(ctx, "PUT", "/api/v1/teams/main/pipelines/p/rename", nil, map[string]string{"name": name}, nil); err == nil {
			t.Errorf("rename to %.40q was accepted", name)
		}
	}
	// fly order-pipelines: hostile names, an unknown one, a body that is
	// not a list, a huge one: each refused (400, or 413 for the size).
	for _, body := range []string{`["p", "../p"]`, `["a\u0000b"]`, `["p", "` + strings.Repeat("z", 300) + `"]`, `{"p": 1}`, `["p", "nope"]`,
		"[" + strings.Repeat(`"p",`, 400000) + `"p"]`} {
		req, _ := http.NewRequestWithContext(ctx, "PUT", hs.URL+"/api/v1/teams/main/pipelines/ordering", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("ordering %.60s: %d, want 400 or 413", body, resp.StatusCode)
		}
	}
}

// Actions on an archived pipeline answer 409 with Concourse's text body.
func TestArchivedPipelineRefusesActions(t *testing.T) {
	ctx := t.Context()
	hs, client := newHub(t)
	admin := client("admin")
	if _, err := admin.Do(ctx, "PUT", "/api/v1/teams/main/pipelines/p/config", http.Header{"Content-Type": {"application/x-yaml"}}, []byte(pipelineYAML), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Do(ctx, "PUT", "/api/v1/teams/main/pipelines/p/archive", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, action := range []struct{ method, path string }{
		{"PUT", "/pause"}, {"POST", "/jobs/j/builds"}, {"PUT", "/jobs/j/schedule"}, {"POST", "/jobs/j/builds/1"}, {"PUT", "/resources/r/unpin"},
	} {
		req, _ := http.NewRequest(action.method, hs.URL+"/api/v1/teams/main/pipelines/p"+action.path, nil)
		req.Header.Set("Authorization", "Bearer "+admin.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusConflict || string(body) != "action not allowed for an archived pipeline\n" {
			t.Errorf("%s %s: %d %q", action.method, action.path, resp.StatusCode, body)
		}
	}
}

// Roles set through the API survive a hub restart: the flags' users are added
// to the main team's owners, and nothing else is changed.
func TestMainTeamRolesSurviveRestart(t *testing.T) {
	ctx := t.Context()
	st := storetest.New(t)
	start := func(owners ...string) *api.Client {
		return &api.Client{URL: serve(t, st, []string{"admin", "viewer", "second"}, owners...).URL}
	}
	first := start("admin")
	first.Token = login(t, first.URL, "admin")
	set := api.Team{Auth: api.TeamAuth{"owner": {Users: []string{"local:admin"}, Groups: []string{}}, "viewer": {Users: []string{"local:viewer"}, Groups: []string{"org:ops"}}}}
	if _, err := first.Do(ctx, "PUT", "/api/v1/teams/main", nil, set, nil); err != nil {
		t.Fatal(err)
	}
	second := start("admin", "second") // the restart, with one more owner in its flags
	second.Token = first.Token
	var got api.Team
	if _, err := second.Do(ctx, "GET", "/api/v1/teams/main", nil, nil, &got); err != nil {
		t.Fatal(err)
	}
	want := api.TeamAuth{"owner": {Users: []string{"local:admin", "local:second"}, Groups: []string{}}, "viewer": {Users: []string{"local:viewer"}, Groups: []string{"org:ops"}}}
	if diff := cmp.Diff(want, got.Auth); diff != "" {
		t.Errorf("main team's auth after a restart (-want +got):\n%s", diff)
	}
}

// Roles are read through a cache of the teams' auth: a team changed through
// one replica applies there at once, to grants and revocations alike, and
// through another replica within server.RevocationStaleness.
func TestTeamChangesApplyAcrossReplicas(t *testing.T) {
	ctx := t.Context()
	st := storetest.New(t)
	start := func() *api.Client { return &api.Client{URL: serve(t, st, []string{"admin", "viewer"}, "admin").URL} }
	one, two := start(), start()
	admin := login(t, one.URL, "admin")
	viewer := login(t, one.URL, "viewer") // tokens are the replicas' shared store's
	status := func(hub *api.Client) int {
		req, _ := http.NewRequestWithContext(ctx, "GET", hub.URL+"/api/v1/teams/main/containers", nil)
		req.Header.Set("Authorization", "Bearer "+viewer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	setViewers := func(users ...string) {
		one.Token = admin
		team := api.Team{Auth: api.TeamAuth{"owner": {Users: []string{"local:admin"}}, "viewer": {Users: users}}}
		if _, err := one.Do(ctx, "PUT", "/api/v1/teams/main", nil, team, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Both replicas read the teams (and keep them) before the change.
	if a, b := status(one), status(two); a != http.StatusForbidden || b != http.StatusForbidden {
		t.Fatalf("before the grant: %d and %d, want 403 from both", a, b)
	}
	eventually := func(want int) {
		t.Helper()
		deadline := time.Now().Add(server.RevocationStaleness + 10*time.Second)
		for status(two) != want {
			if time.Now().After(deadline) {
				t.Fatalf("the other replica did not answer %d within %v of the change", want, server.RevocationStaleness)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	setViewers("local:viewer")
	if got := status(one); got != http.StatusOK {
		t.Fatalf("the replica that granted the role answers %d, want 200 at once", got)
	}
	eventually(http.StatusOK)
	setViewers()
	if got := status(one); got != http.StatusForbidden {
		t.Fatalf("the replica that revoked the role answers %d, want 403 at once", got)
	}
	eventually(http.StatusForbidden)
}

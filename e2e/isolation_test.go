package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/auth"
	"github.com/switchyard-ci/switchyard/hub/gateway"
	"github.com/switchyard-ci/switchyard/hub/server"
	"github.com/switchyard-ci/switchyard/wire"
)

// The isolation matrix: every route of the user API and of the spoke API,
// asked by every kind of caller, gets exactly the answer Concourse's role
// table gives (viewers read, pipeline-operators operate, members change,
// owners own, main's owners administer; spokes speak only the spoke API, and
// only about their own steps), and no answer to a caller without a role on
// the team carries the team's data. The table below is written from that
// role table, not from the hub's route table: a route that forgets its check,
// or a new route the table does not name, fails here.

// Roles on the team under test, blue, in Concourse's order.
const (
	noRole = iota
	viewerRole
	operatorRole
	memberRole
	ownerRole
)

type callerKind int

const (
	anonymous callerKind = iota // no token
	invalid                     // a token the user API must refuse
	user                        // a user with a role on blue (or none)
	spoke                       // a spoke's credential
)

type identity struct {
	name  string
	kind  callerKind
	token string
	role  int // on blue, for users
	user  string
	team  string // a spoke's team ("" for the shared pool)
}

// need is who may call a route, and what an allowed caller gets. A caller
// who may not gets 401 without a valid user token, 403 with one.
type need struct {
	who  string // anyone, user, admin, viewer, operator, member, owner, public (a public pipeline: anyone), webhook (no one without the token); spoke API: spoke, owner-spoke (the spoke that runs the step), join, signed
	ok   int
	path string // the request's path when the route's pattern is not filled as usual
	body string
	// fresh: the route revokes the token it is given, so each user asks
	// with a token of its own; no token at all is 401.
	fresh bool
	// page: a page of the web UI, which sends a caller without a valid
	// token to sign in (302) instead of answering 401.
	page bool
}

// The team's private data: no answer to an outsider may carry these.
const (
	privatePipeline = "bluepriv"
	privateMarker   = "blue-private-marker"
)

func userAPINeeds(build, publicBuild, hiddenBuild int64) map[string]need {
	b := fmt.Sprint(build)
	nope := "/api/v1/teams/blue/pipelines/nope"
	return map[string]need{
		"GET /{$}":                               {who: "anyone", ok: 200, path: "/", page: true},
		"GET /hd":                                {who: "anyone", ok: 200, page: true},
		"GET /teams/{team}/pipelines/{pipeline}": {who: "viewer", ok: 200, page: true},
		"GET /teams/{team}/pipelines/{pipeline}/jobs/{job}":                     {who: "viewer", ok: 200, page: true},
		"GET /teams/{team}/pipelines/{pipeline}/jobs/{job}/builds/{build_name}": {who: "viewer", ok: 200, page: true},
		"GET /teams/{team}/pipelines/{pipeline}/resources/{resource}":           {who: "viewer", ok: 200, page: true},
		"GET /builds/{build}":             {who: "viewer", ok: 200, page: true},
		"GET /fleet":                      {who: "user", ok: 200, page: true},
		"GET /api/v1/ui/changes":          {who: "anyone", ok: 200, path: "/api/v1/ui/changes?since=2020-01-01T00:00:00Z"},
		"GET /healthz":                    {who: "anyone", ok: 200},
		"GET /metrics":                    {who: "admin", ok: 200}, // or the --metrics-token bearer (TestMetricsInPrometheus)
		"GET /api/v1/info":                {who: "anyone", ok: 200},
		"POST /sky/issuer/token":          {who: "anyone", ok: 401}, // no client credentials: invalid_client, as Concourse answers
		"GET /sky/logout":                 {who: "anyone", ok: 200, fresh: true},
		"GET /login":                      {who: "anyone", ok: 200},
		"POST /sky/login":                 {who: "anyone", ok: 401},
		"GET /sky/login/oidc":             {who: "anyone", ok: 404},
		"GET /sky/issuer/callback":        {who: "anyone", ok: 400},
		"GET /fly_success":                {who: "anyone", ok: 200},
		"GET /api/v1/user":                {who: "user", ok: 200},
		"GET /api/v1/users":               {who: "admin", ok: 200},
		"GET /api/v1/wall":                {who: "anyone", ok: 200},
		"PUT /api/v1/wall":                {who: "admin", ok: 200},
		"DELETE /api/v1/wall":             {who: "admin", ok: 200},
		"GET /api/v1/cli":                 {who: "anyone", ok: 400},
		"GET /api/v1/teams":               {who: "anyone", ok: 200},
		"GET /api/v1/teams/{team}":        {who: "viewer", ok: 200},
		"PUT /api/v1/teams/{team}":        {who: "owner", ok: 400, body: `{"auth": {}}`},
		"PUT /api/v1/teams/{team}/rename": {who: "owner", ok: 400, body: `{}`},
		"DELETE /api/v1/teams/{team}":     {who: "admin", ok: 404, path: "/api/v1/teams/nope"},

		"GET /api/v1/pipelines":                                                                           {who: "anyone", ok: 200},
		"PUT /api/v1/teams/{team}/pipelines/ordering":                                                     {who: "member", ok: 400, body: `["nope"]`},
		"GET /api/v1/teams/{team}/pipelines":                                                              {who: "anyone", ok: 200},
		"GET /api/v1/teams/{team}/pipelines/{pipeline}":                                                   {who: "viewer", ok: 200},
		"DELETE /api/v1/teams/{team}/pipelines/{pipeline}":                                                {who: "member", ok: 404, path: nope},
		"GET /api/v1/teams/{team}/pipelines/{pipeline}/config":                                            {who: "viewer", ok: 200},
		"PUT /api/v1/teams/{team}/pipelines/{pipeline}/config":                                            {who: "member", ok: 400, path: nope + "/config", body: "jobs: 3"},
		"PUT /api/v1/teams/{team}/pipelines/{pipeline}/pause":                                             {who: "operator", ok: 404, path: nope + "/pause"},
		"PUT /api/v1/teams/{team}/pipelines/{pipeline}/unpause":                                           {who: "operator", ok: 404, path: nope + "/unpause"},
		"PUT /api/v1/teams/{team}/pipelines/{pipeline}/expose":                                            {who: "member", ok: 404, path: nope + "/expose"},
		"PUT /api/v1/teams/{team}/pipelines/{pipeline}/hide":                                              {who: "member", ok: 404, path: nope + "/hide"},
		"PUT /api/v1/teams/{team}/pipelines/{pipeline}/trust":                                             {who: "owner", ok: 404, path: nope + "/trust"},
		"PUT /api/v1/teams/{team}/pipelines/{pipeline}/untrust":                                           {who: "owner", ok: 404, path: nope + "/untrust"},
		"PUT /api/v1/teams/{team}/pipelines/{pipeline}/archive":                                           {who: "member", ok: 404, path: nope + "/archive"},
		"PUT /api/v1/teams/{team}/pipelines/{pipeline}/rename":                                            {who: "member", ok: 404, path: nope + "/rename", body: `{"name": "other"}`},
		"GET /api/v1/teams/{team}/pipelines/{pipeline}/jobs":                                              {who: "viewer", ok: 200},
		"GET /api/v1/teams/{team}/pipelines/{pipeline}/jobs/{job}":                                        {who: "viewer", ok: 200},
		"PUT /api/v1/teams/{team}/pipelines/{pipeline}/jobs/{job}/pause":                                  {who: "operator", ok: 404, path: nope + "/jobs/j/pause"},
		"PUT /api/v1/teams/{team}/pipelines/{pipeline}/jobs/{job}/unpause":                                {who: "operator", ok: 404, path: nope + "/jobs/j/unpause"},
		"PUT /api/v1/teams/{team}/pipelines/{pipeline}/jobs/{job}/schedule":                               {who: "operator", ok: 404, path: nope + "/jobs/j/schedule"},
		"PUT /api/v1/teams/{team}/pipelines/{pipeline}/jobs/{job}/trust":                                  {who: "owner", ok: 404, path: nope + "/jobs/j/trust"},
		"PUT /api/v1/teams/{team}/pipelines/{pipeline}/jobs/{job}/untrust":                                {who: "owner", ok: 404, path: nope + "/jobs/j/untrust"},
		"POST /api/v1/teams/{team}/pipelines/{pipeline}/jobs/{job}/builds":                                {who: "operator", ok: 404, path: nope + "/jobs/j/builds"},
		"POST /api/v1/teams/{team}/pipelines/{pipeline}/jobs/{job}/builds/{build_name}":                   {who: "operator", ok: 404, path: nope + "/jobs/j/builds/1"},
		"GET /api/v1/teams/{team}/pipelines/{pipeline}/jobs/{job}/inputs":                                 {who: "viewer", ok: 200},
		"GET /api/v1/teams/{team}/pipelines/{pipeline}/jobs/{job}/builds":                                 {who: "viewer", ok: 200},
		"GET /api/v1/teams/{team}/pipelines/{pipeline}/jobs/{job}/builds/{build_name}":                    {who: "viewer", ok: 200},
		"GET /api/v1/teams/{team}/pipelines/{pipeline}/builds":                                            {who: "viewer", ok: 200},
		"GET /api/v1/teams/{team}/pipelines/{pipeline}/versions-db":                                       {who: "viewer", ok: 200},
		"GET /api/v1/teams/{team}/pipelines/{pipeline}/resources":                                         {who: "viewer", ok: 200},
		"GET /api/v1/teams/{team}/pipelines/{pipeline}/resource-types":                                    {who: "viewer", ok: 200},
		"GET /api/v1/teams/{team}/pipelines/{pipeline}/resources/{resource}":                              {who: "viewer", ok: 200},
		"GET /api/v1/teams/{team}/pipelines/{pipeline}/resources/{resource}/versions":                     {who: "viewer", ok: 200},
		"POST /api/v1/teams/{team}/pipelines/{pipeline}/resources/{resource}/check":                       {who: "operator", ok: 404, path: nope + "/resources/r/check"},
		"POST /api/v1/teams/{team}/pipelines/{pipeline}/resources/{resource}/check/webhook":               {who: "webhook", ok: 401},
		"POST /api/v1/teams/{team}/pipelines/{pipeline}/resource-types/{resource_type}/check":             {who: "operator", ok: 404, path: nope + "/resource-types/t/check"},
		"PUT /api/v1/teams/{team}/pipelines/{pipeline}/ordering":                                          {who: "member", ok: 400, body: `[{"branch": "nope"}]`},
		"PUT /api/v1/teams/{team}/pipelines/{pipeline}/resources/{resource}/versions/{version}/pin":       {who: "operator", ok: 404, path: nope + "/resources/r/versions/1/pin"},
		"GET /api/v1/teams/{team}/pipelines/{pipeline}/resources/{resource}/versions/{version}/input_to":  {who: "viewer", ok: 200},
		"GET /api/v1/teams/{team}/pipelines/{pipeline}/resources/{resource}/versions/{version}/output_of": {who: "viewer", ok: 200},
		"PUT /api/v1/teams/{team}/pipelines/{pipeline}/resources/{resource}/unpin":                        {who: "operator", ok: 404, path: nope + "/resources/r/unpin"},
		"PUT /api/v1/teams/{team}/pipelines/{pipeline}/resources/{resource}/pin_comment":                  {who: "operator", ok: 404, path: nope + "/resources/r/pin_comment", body: `{"pin_comment": "x"}`},
		"PUT /api/v1/teams/{team}/pipelines/{pipeline}/resources/{resource}/versions/{version}/enable":    {who: "operator", ok: 404, path: nope + "/resources/r/versions/1/enable"},
		"PUT /api/v1/teams/{team}/pipelines/{pipeline}/resources/{resource}/versions/{version}/disable":   {who: "operator", ok: 404, path: nope + "/resources/r/versions/1/disable"},

		"GET /api/v1/teams/{team}/pipelines/{pipeline}/resources/{resource}/shared":                {who: "viewer", ok: 200},
		"GET /api/v1/teams/{team}/pipelines/{pipeline}/resource-types/{resource_type}/shared":      {who: "viewer", ok: 404},
		"DELETE /api/v1/teams/{team}/pipelines/{pipeline}/resources/{resource}/versions":           {who: "admin", ok: 200},
		"DELETE /api/v1/teams/{team}/pipelines/{pipeline}/resource-types/{resource_type}/versions": {who: "admin", ok: 404},
		"DELETE /api/v1/teams/{team}/pipelines/{pipeline}/resources/{resource}/cache":              {who: "operator", ok: 404, path: nope + "/resources/r/cache"},
		"DELETE /api/v1/teams/{team}/pipelines/{pipeline}/jobs/{job}/tasks/{step}/cache":           {who: "operator", ok: 404, path: nope + "/jobs/j/tasks/t/cache"},

		"GET /api/v1/builds":                                    {who: "anyone", ok: 200},
		"GET /api/v1/teams/{team}/builds":                       {who: "viewer", ok: 200},
		"POST /api/v1/teams/{team}/builds":                      {who: "member", ok: 400, body: `{}`},
		"POST /api/v1/teams/{team}/pipelines/{pipeline}/builds": {who: "member", ok: 400, body: `{}`},
		"POST /api/v1/teams/{team}/artifacts":                   {who: "member", ok: 400, body: "not a tar"},
		"GET /api/v1/teams/{team}/artifacts/{id}":               {who: "member", ok: 404, path: "/api/v1/teams/blue/artifacts/999999"},
		"GET /api/v1/builds/{build}/artifacts":                  {who: "viewer", ok: 200},
		"GET /api/v1/teams/{team}/policies":                     {who: "viewer", ok: 200},
		"PUT /api/v1/teams/{team}/policies/{name}":              {who: "owner", ok: 400, path: "/api/v1/teams/blue/policies/x?on_error=maybe"},
		"DELETE /api/v1/teams/{team}/policies/{name}":           {who: "owner", ok: 404},
		"PUT /api/v1/policies/{name}":                           {who: "admin", ok: 400, path: "/api/v1/policies/x?on_error=maybe"},
		"DELETE /api/v1/policies/{name}":                        {who: "admin", ok: 404},
		"GET /api/v1/teams/{team}/containers":                   {who: "viewer", ok: 200},
		"GET /api/v1/teams/{team}/containers/{handle}":          {who: "viewer", ok: 404},
		"GET /api/v1/teams/{team}/containers/{handle}/hijack":   {who: "member", ok: 404},
		"GET /api/v1/builds/{build}":                            {who: "viewer", ok: 200},
		"PUT /api/v1/builds/{build}/abort":                      {who: "operator", ok: 204, path: "/api/v1/builds/" + fmt.Sprint(hiddenBuild) + "/abort"},
		"PUT /api/v1/builds/{build}/comment":                    {who: "operator", ok: 200, path: "/api/v1/builds/" + fmt.Sprint(hiddenBuild) + "/comment", body: `{"comment": "x"}`},
		"GET /api/v1/builds/{build}/events":                     {who: "viewer", ok: 200, path: "/api/v1/builds/" + b + "/events?wait=0"},
		"GET /api/v1/builds/{build}/log":                        {who: "viewer", ok: 200},
		"GET /api/v1/builds/{build}/preparation":                {who: "viewer", ok: 200},
		"GET /api/v1/builds/{build}/resources":                  {who: "viewer", ok: 200},
		"GET /api/v1/builds/{build}/plan":                       {who: "viewer", ok: 200},
		"GET /api/v1/builds/{build}/placement":                  {who: "viewer", ok: 200},
		"GET /api/v1/workers":                                   {who: "user", ok: 200},
		"PUT /api/v1/workers/{worker}/land":                     {who: "user", ok: 404, path: "/api/v1/workers/nope/land"}, // TestLandRetirePruneSpokes: a pool spoke is an admin's
		"PUT /api/v1/workers/{worker}/retire":                   {who: "user", ok: 404, path: "/api/v1/workers/nope/retire"},
		"PUT /api/v1/workers/{worker}/prune":                    {who: "user", ok: 404, path: "/api/v1/workers/nope/prune"},
		"DELETE /api/v1/workers/{worker}/credential":            {who: "user", ok: 404, path: "/api/v1/workers/nope/credential"},
		"GET /api/v1/teams/{team}/join-tokens":                  {who: "owner", ok: 200},
		"POST /api/v1/teams/{team}/join-tokens":                 {who: "owner", ok: 400, body: `{"name": "../x"}`},
		"PUT /api/v1/teams/{team}/join-tokens/{name}/rotate":    {who: "owner", ok: 404},
		"DELETE /api/v1/teams/{team}/join-tokens/{name}":        {who: "owner", ok: 404},
		"GET /api/v1/teams/{team}/fleet-quota":                  {who: "viewer", ok: 200},
		"PUT /api/v1/teams/{team}/fleet-quota":                  {who: "admin", ok: 400, body: `{"max_memory": "lots"}`},
		"GET /api/v1/join-tokens":                               {who: "admin", ok: 200},
		"POST /api/v1/join-tokens":                              {who: "admin", ok: 400, body: `{"name": ""}`},
		"PUT /api/v1/join-tokens/{name}/rotate":                 {who: "admin", ok: 404},
		"DELETE /api/v1/join-tokens/{name}":                     {who: "admin", ok: 404},
	}
}

func TestIsolationMatrix(t *testing.T) {
	f := newFleetOf(t, bin, "", []string{
		"--add-local-user", "vi:pw", "--add-local-user", "op:pw", "--add-local-user", "me:pw", "--add-local-user", "ow:pw",
		"--add-local-user", "gr:pw", "--spoke-join-token", "green=green-token",
	})
	ctx := t.Context()
	admin := &api.Client{URL: f.url, Token: f.token()}
	setTeam := func(name string, auth api.TeamAuth) {
		t.Helper()
		if _, err := admin.Do(ctx, "PUT", "/api/v1/teams/"+name, nil, api.Team{Auth: auth}, nil); err != nil {
			t.Fatal(err)
		}
	}
	setTeam("blue", api.TeamAuth{"owner": {Users: []string{"local:ow"}}, "member": {Users: []string{"local:me"}},
		"pipeline-operator": {Users: []string{"local:op"}}, "viewer": {Users: []string{"local:vi"}}})
	setTeam("green", api.TeamAuth{"owner": {Users: []string{"local:gr"}}})
	setPipeline := func(team, name, yaml string) {
		t.Helper()
		base := "/api/v1/teams/" + team + "/pipelines/" + name
		if _, err := admin.Do(ctx, "PUT", base+"/config", http.Header{"Content-Type": {"application/x-yaml"}}, []byte(yaml), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Do(ctx, "PUT", base+"/unpause", nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	task := "{platform: linux, run: {path: echo, args: [" + privateMarker + "]}}"
	setPipeline("blue", privatePipeline, "resources:\n- {name: r, type: mock, source: {note: "+privateMarker+"}, check_every: never}\njobs:\n- name: j\n  plan:\n  - task: t\n    config: "+task+"\n- name: k\n  plan:\n  - get: r\n")
	setPipeline("blue", "pub", "jobs:\n- name: shown\n  public: true\n  plan:\n  - task: t\n    config: {platform: linux, run: {path: \"true\"}}\n- name: hidden\n  plan:\n  - task: t\n    config: "+task+"\n")
	if _, err := admin.Do(ctx, "PUT", "/api/v1/teams/blue/pipelines/pub/expose", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	setPipeline("green", "gp", "jobs:\n- name: g\n  plan:\n  - task: t\n    config: {platform: linux, run: {path: \"true\"}}\n")

	// Blue's spoke is the test: it joins, and takes the step of blue's build.
	blueSpoke := joinSpoke(t, f.url, "blue-token", "blue-1")
	trigger := func(path string) int64 {
		t.Helper()
		var b api.Build
		if _, err := admin.Do(ctx, "POST", path, nil, nil, &b); err != nil {
			t.Fatal(err)
		}
		return int64(b.ID)
	}
	build := trigger("/api/v1/teams/blue/pipelines/" + privatePipeline + "/jobs/j/builds")
	step := takeStep(t, f.url, blueSpoke, build)
	publicBuild := trigger("/api/v1/teams/blue/pipelines/pub/jobs/shown/builds")
	hiddenBuild := trigger("/api/v1/teams/blue/pipelines/pub/jobs/hidden/builds")
	greenSpoke := joinSpoke(t, f.url, "green-token", "green-1")
	poolSpoke := joinSpoke(t, f.url, "pool-token", "pool-1")
	beat := heartbeats(t, f.url, blueSpoke, greenSpoke, poolSpoke)
	defer beat()

	login := func(name string) string {
		t.Helper()
		return passwordToken(t, f.url, name, "pw")
	}
	revoked := login("ow")
	if resp, err := authed(ctx, "GET", f.url+"/sky/logout", revoked, ""); err != nil || resp.code != 200 {
		t.Fatalf("logout: %v %+v", err, resp)
	}
	ids := []identity{
		{name: "no token", kind: anonymous},
		{name: "forged token", kind: invalid, token: forgedToken(t)},
		{name: "expired token", kind: invalid, token: expiredToken(t, f)},
		{name: "revoked token", kind: invalid, token: revoked},
		{name: "viewer", kind: user, user: "vi", token: login("vi"), role: viewerRole},
		{name: "pipeline-operator", kind: user, user: "op", token: login("op"), role: operatorRole},
		{name: "member", kind: user, user: "me", token: login("me"), role: memberRole},
		{name: "owner", kind: user, user: "ow", token: login("ow"), role: ownerRole},
		{name: "owner of another team", kind: user, user: "gr", token: login("gr"), role: noRole},
		{name: "spoke of the team", kind: spoke, token: blueSpoke, team: "blue"},
		{name: "spoke of another team", kind: spoke, token: greenSpoke, team: "green"},
		{name: "spoke of the shared pool", kind: spoke, token: poolSpoke, team: ""},
	}

	var tried, refused, allowed int
	check := func(route string, n need, id identity, want int, resp response) {
		t.Helper()
		tried++
		if resp.code != want {
			t.Errorf("%s as %s: %d %s, want %d", route, id.name, resp.code, clip(resp.body), want)
		}
		if want == 401 || want == 403 || want == 409 {
			refused++
		} else {
			allowed++
		}
		if (id.kind != user || id.role == noRole) && (strings.Contains(resp.body, privateMarker) || strings.Contains(resp.body, privatePipeline)) {
			t.Errorf("%s as %s: the answer carries blue's private data: %s", route, id.name, clip(resp.body))
		}
	}

	// The user API.
	needs := userAPINeeds(build, publicBuild, hiddenBuild)
	routes := server.RouteTable()
	for _, route := range routes {
		n, ok := needs[route]
		if !ok {
			t.Errorf("route %s is not in the isolation matrix: say who may call it", route)
			continue
		}
		method, pattern, _ := strings.Cut(route, " ")
		path := n.path
		if path == "" {
			path = fill(pattern, build)
		}
		for _, id := range ids {
			token := id.token
			if n.fresh && id.kind == user {
				token = login(id.user)
			}
			resp, err := authed(ctx, method, f.url+path, token, n.body)
			if err != nil {
				t.Fatal(err)
			}
			want := expectUser(n, id)
			if n.fresh && id.kind == anonymous {
				want = 401
			}
			check(route, n, id, want, resp)
		}
	}
	for route := range needs {
		if !contains(routes, route) {
			t.Errorf("the matrix names %s, which the hub does not serve", route)
		}
	}

	// Who may land a spoke: a member (or more) of the spoke's team; a pool
	// spoke only an admin (no caller here is one).
	for _, sp := range []string{"green-1", "pool-1"} {
		for _, id := range ids {
			resp, err := authed(ctx, "PUT", f.url+"/api/v1/workers/"+sp+"/land", id.token, "")
			if err != nil {
				t.Fatal(err)
			}
			want := 403
			switch {
			case id.kind != user:
				want = 401
			case sp == "green-1" && id.user == "gr":
				want = 200
			}
			check("PUT /api/v1/workers/"+sp+"/land", need{who: "member of the spoke's team", ok: want}, id, want, resp)
		}
	}

	// Public views: an exposed pipeline shows its jobs to anyone, and a
	// build's events, plan and preparation only when its job is public.
	for _, c := range []struct {
		path string
		n    need
	}{
		{"/api/v1/teams/blue/pipelines/pub", need{who: "public", ok: 200}},
		{"/api/v1/teams/blue/pipelines/pub/jobs", need{who: "public", ok: 200}},
		{"/api/v1/teams/blue/pipelines/pub/jobs/hidden/builds", need{who: "public", ok: 200}},
		{"/api/v1/teams/blue/pipelines/pub/config", need{who: "viewer", ok: 200}},
		{fmt.Sprintf("/api/v1/builds/%d", publicBuild), need{who: "public", ok: 200}},
		{fmt.Sprintf("/api/v1/builds/%d/events?wait=0", publicBuild), need{who: "public", ok: 200}},
		{fmt.Sprintf("/api/v1/builds/%d/preparation", publicBuild), need{who: "public", ok: 200}},
		{fmt.Sprintf("/api/v1/builds/%d", hiddenBuild), need{who: "public", ok: 200}},
		{fmt.Sprintf("/api/v1/builds/%d/events?wait=0", hiddenBuild), need{who: "viewer", ok: 200}},
		{fmt.Sprintf("/api/v1/builds/%d/preparation", hiddenBuild), need{who: "viewer", ok: 200}},
		{fmt.Sprintf("/api/v1/builds/%d/placement", hiddenBuild), need{who: "viewer", ok: 200}},
		{fmt.Sprintf("/api/v1/builds/%d/artifacts", hiddenBuild), need{who: "viewer", ok: 200}},
	} {
		for _, id := range ids {
			resp, err := authed(ctx, "GET", f.url+c.path, id.token, "")
			if err != nil {
				t.Fatal(err)
			}
			check("GET "+c.path, c.n, id, expectUser(c.n, id), resp)
		}
	}

	// The spoke API: a spoke speaks only of its own steps. The result, which
	// ends blue's step, comes last.
	spokeRoutes := gateway.RouteTable()
	stepPath := func(p string) string { return strings.Replace(p, "{id}", fmt.Sprint(step.StepID), 1) }
	fence := fmt.Sprintf(`{"fence": %d}`, step.Fence)
	spokeNeeds := map[string]need{
		"POST " + wire.PathJoin:              {who: "join", ok: 401, body: `{"name": "x", "token": "no-such-token", "runtime": "local"}`},
		"POST " + wire.PathHeartbeat:         {who: "spoke", ok: 200, body: `{}`},
		"POST " + wire.PathRetire:            {who: "spoke", ok: 204, body: `{}`}, // last: the spokes leave
		"GET " + wire.PathSteps:              {who: "spoke", ok: 200, path: wire.PathSteps + "?wait=0s&running=" + fmt.Sprint(step.StepID)},
		"POST " + wire.PathLogs:              {who: "owner-spoke", ok: 204, path: stepPath(wire.PathLogs), body: `{"fence": ` + fmt.Sprint(step.Fence) + `, "lines": []}`},
		"GET " + wire.PathIntercept:          {who: "spoke", ok: 421, path: strings.Replace(wire.PathIntercept, "{id}", "999999", 1)},
		"POST " + wire.PathArtifacts:         {who: "owner-spoke", ok: 200, path: stepPath(wire.PathArtifacts), body: fence},
		"GET " + wire.PathBlobs + "{key...}": {who: "signed", ok: 403, path: wire.PathBlobs + "1/sha256/x"},
		"PUT " + wire.PathBlobs + "{key...}": {who: "signed", ok: 403, path: wire.PathBlobs + "1/sha256/x"},
		"POST " + wire.PathResult:            {who: "owner-spoke", ok: 204, path: stepPath(wire.PathResult), body: `{"fence": ` + fmt.Sprint(step.Fence) + `, "exit_status": 0}`},
	}
	last := func(route string) int { // the result ends blue's step; retiring comes after it
		switch {
		case strings.HasSuffix(route, "/result"):
			return 1
		case strings.HasSuffix(route, "/retire"):
			return 2
		}
		return 0
	}
	sort.SliceStable(spokeRoutes, func(i, j int) bool { return last(spokeRoutes[i]) < last(spokeRoutes[j]) })
	for _, route := range spokeRoutes {
		n, ok := spokeNeeds[route]
		if !ok {
			t.Errorf("spoke route %s is not in the isolation matrix: say who may call it", route)
			continue
		}
		method, path, _ := strings.Cut(route, " ")
		if n.path != "" {
			path = n.path
		}
		for _, id := range ids {
			resp, err := authed(ctx, method, f.url+path, id.token, n.body)
			if err != nil {
				t.Fatal(err)
			}
			check(route, n, id, expectSpoke(n, id), resp)
		}
	}
	for route := range spokeNeeds {
		if !contains(spokeRoutes, route) {
			t.Errorf("the matrix names spoke route %s, which the hub does not serve", route)
		}
	}
	t.Logf("isolation matrix: %d requests, %d refused and %d allowed as expected (%d routes, %d callers)",
		tried, refused, allowed, len(routes)+len(spokeRoutes), len(ids))
}

// expectUser is the user API's answer to id for a route that needs n.
func expectUser(n need, id identity) int {
	if n.page && (id.kind == invalid || id.kind == spoke || id.kind == anonymous && n.who != "anyone") {
		return 302 // to sign in
	}
	switch id.kind {
	case invalid, spoke:
		return 401 // a token that is present must be a valid user token
	case anonymous:
		if n.who == "anyone" || n.who == "public" {
			return n.ok
		}
		return 401
	}
	if n.who == "webhook" {
		return n.ok
	}
	min := map[string]int{"anyone": noRole, "public": noRole, "user": noRole, "viewer": viewerRole, "operator": operatorRole, "member": memberRole, "owner": ownerRole}
	r, ok := min[n.who]
	if !ok || id.role < r { // admin: no caller here owns main
		return 403
	}
	return n.ok
}

// expectSpoke is the spoke API's answer to id for a route that needs n.
func expectSpoke(n need, id identity) int {
	switch n.who {
	case "join", "signed":
		return n.ok // what the caller bears does not count: the join token or the signature does
	}
	if id.kind != spoke {
		return 401
	}
	if n.who == "owner-spoke" && id.team != "blue" {
		return 409 // the step is another spoke's: stop it
	}
	return n.ok
}

// fill puts the team under test and its objects into a route's pattern.
func fill(pattern string, build int64) string {
	return strings.NewReplacer("{team}", "blue", "{pipeline}", privatePipeline, "{job}", "j", "{build_name}", "1",
		"{resource}", "r", "{resource_type}", "t", "{version}", "1", "{build}", fmt.Sprint(build), "{id}", "1", "{name}", "x", "{handle}", "h").Replace(pattern)
}

type response struct {
	code int
	body string
}

// noRedirects answers a redirect as it is (a page sends an outsider to sign in).
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func authed(ctx context.Context, method, u, token, body string) (response, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if strings.HasPrefix(body, "{") {
		req.Header.Set("Content-Type", "application/json")
	} else if body != "" {
		req.Header.Set("Content-Type", "application/x-yaml")
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		// A build's events stream until it ends: read what the first
		// second brings.
		timer := time.AfterFunc(time.Second, cancel)
		defer timer.Stop()
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return response{resp.StatusCode, string(data)}, nil
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func passwordToken(t testing.TB, hubURL, user, password string) string {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}}
	req, _ := http.NewRequest(http.MethodPost, hubURL+"/sky/issuer/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("fly", "Zmx5")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok api.Token
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token for %s: %s %v", user, resp.Status, err)
	}
	return tok.AccessToken
}

// forgedToken is shaped as the hub's tokens are, with an expiry far ahead,
// but the hub never issued it.
func forgedToken(t *testing.T) string {
	t.Helper()
	tok, err := auth.NewToken(time.Now().Add(10 * 365 * 24 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// expiredToken is issued by a second replica of the fleet's hub whose
// tokens live a second, and used after that.
func expiredToken(t *testing.T, f *fleet) string {
	t.Helper()
	listen := freeAddr(t)
	f.start("hub-short", "hub", "--listen", listen, "--database-url", f.db, "--add-local-user", "ow:pw", "--auth-duration", "1s",
		"--artifact-store", f.artifactStore())
	u := "http://" + listen
	for i := 0; ; i++ {
		if resp, err := http.Get(u + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if i > 300 {
			t.Fatal("the second hub did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}
	tok := passwordToken(t, u, "ow", "pw")
	time.Sleep(1500 * time.Millisecond)
	return tok
}

// joinSpoke joins the hub as a spoke with a join token and returns its credential.
func joinSpoke(t *testing.T, hubURL, token, name string) string {
	t.Helper()
	body, _ := json.Marshal(wire.JoinRequest{Token: token, Name: name, Runtime: "local", Capacity: wire.Capacity{Steps: 10}})
	resp, err := http.Post(hubURL+wire.PathJoin, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var joined wire.JoinResponse
	if err := json.NewDecoder(resp.Body).Decode(&joined); err != nil || joined.Credential == "" {
		t.Fatalf("join %s: %s %v", name, resp.Status, err)
	}
	return joined.Credential
}

// takeStep long-polls as the spoke until it is handed a step of build.
func takeStep(t *testing.T, hubURL, credential string, build int64) wire.Assignment {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		resp, err := authed(t.Context(), "GET", hubURL+wire.PathSteps+"?wait=2s", credential, "")
		if err != nil {
			t.Fatal(err)
		}
		var steps wire.Steps
		if err := json.Unmarshal([]byte(resp.body), &steps); err != nil {
			t.Fatalf("steps: %d %s", resp.code, resp.body)
		}
		for _, a := range steps.New {
			if a.BuildID == build {
				return a
			}
		}
	}
	t.Fatalf("no step of build %d reached the spoke in a minute", build)
	return wire.Assignment{}
}

// heartbeats keeps the spokes' leases until stopped.
func heartbeats(t *testing.T, hubURL string, credentials ...string) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			for _, c := range credentials {
				_, _ = authed(ctx, "POST", hubURL+wire.PathHeartbeat, c, "{}")
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	return func() { cancel(); <-done }
}

package docs

import (
	"fmt"
	"strings"
	"testing"

	"github.com/switchyard-ci/switchyard/hub/gateway"
	"github.com/switchyard-ci/switchyard/hub/server"
)

// ownRoutes are the user API's routes that Concourse does not have, with
// what each does; every other route the hub serves is Concourse's, with
// Concourse's shapes.
var ownRoutes = map[string]string{
	"GET /fleet":                           "The fleet page of the web UI: spokes, their team or pool, state, capacity and load, and the policies in force.",
	"GET /api/v1/ui/changes":               "The pipelines whose builds changed since `since` (RFC 3339, at most 10 minutes back), for the web UI's live pages.",
	"GET /healthz":                         "200 `{\"status\": \"ok\"}` once the hub serves its API (after its migrations); for probes.",
	"GET /metrics":                         "Prometheus metrics ([observability.md](observability.md#metrics)); Concourse serves them on a port of their own.",
	"POST /sky/login":                      "The sign-in page's form for local users (with `fly_port` or a return path).",
	"GET /sky/login/oidc":                  "Starts the sign-in through the OpenID provider (code flow with PKCE).",
	"GET /api/v1/builds/{build}/log":       "A build's events joined for reading: its last 5,000 log lines joined by step, source and second, with every other event; `?before=` for earlier lines, `?after=` to go on.",
	"GET /api/v1/builds/{build}/placement": "Each step's placement decision: the spoke chosen, each spoke's filters, policy verdicts and scores (`fly placement`).",
	"PUT /api/v1/teams/{team}/pipelines/{pipeline}/trust":              "Marks a pipeline's builds trusted (`fly trust-pipeline`).",
	"PUT /api/v1/teams/{team}/pipelines/{pipeline}/untrust":            "Marks a pipeline's builds untrusted: no secrets, and policies see `build.trusted` false (`fly untrust-pipeline`).",
	"PUT /api/v1/teams/{team}/pipelines/{pipeline}/jobs/{job}/trust":   "Marks a job's builds trusted (`fly trust-job`).",
	"PUT /api/v1/teams/{team}/pipelines/{pipeline}/jobs/{job}/untrust": "Marks a job's builds untrusted (`fly untrust-job`).",
	"GET /api/v1/teams/{team}/policies":                                "The team's placement policies, and the global ones (`fly policies`).",
	"PUT /api/v1/teams/{team}/policies/{name}":                         "Sets a team's policy: the body is the Rego source or the WASM module; `on_error` and `warn_only` in the query (`fly set-policy`).",
	"DELETE /api/v1/teams/{team}/policies/{name}":                      "Removes a team's policy (`fly destroy-policy`).",
	"PUT /api/v1/policies/{name}":                                      "Sets a global policy, for every team (`fly set-policy --global`).",
	"DELETE /api/v1/policies/{name}":                                   "Removes a global policy.",
	"DELETE /api/v1/workers/{worker}/credential":                       "Voids a spoke's own credential: its next call is refused and its steps move (`fly revoke-worker-credential`).",
	"GET /api/v1/teams/{team}/join-tokens":                             "The team's join tokens: names, expiry, who made them; never a token (`fly join-tokens`).",
	"POST /api/v1/teams/{team}/join-tokens":                            "Makes a join token for the team, shown once (`fly create-join-token`).",
	"PUT /api/v1/teams/{team}/join-tokens/{name}/rotate":               "Gives a join token a new value; the old one joins no more (`fly rotate-join-token`).",
	"DELETE /api/v1/teams/{team}/join-tokens/{name}":                   "Revokes a join token; spokes that joined with it stay (`fly revoke-join-token`).",
	"GET /api/v1/teams/{team}/fleet-quota":                             "The team's fleet quota and fair-share weight.",
	"PUT /api/v1/teams/{team}/fleet-quota":                             "Sets the team's fleet quota (open steps, CPU, memory) and weight (`fly set-team-quota`).",
	"GET /api/v1/join-tokens":                                          "The shared pool's join tokens (`fly join-tokens --pool`).",
	"POST /api/v1/join-tokens":                                         "Makes a join token for the shared pool (`fly create-join-token --pool`).",
	"PUT /api/v1/join-tokens/{name}/rotate":                            "Rotates a pool join token.",
	"DELETE /api/v1/join-tokens/{name}":                                "Revokes a pool join token.",
}

// apiTable is the API reference's table of Switchyard's own routes, with
// who may call each (read from the hub's route table) and what it does.
func apiTable(t *testing.T) string {
	t.Helper()
	served := map[string]bool{}
	var b strings.Builder
	b.WriteString("| route | who may call it | what it does |\n|---|---|---|\n")
	for _, r := range server.RouteAccess() {
		served[r[0]] = true
		if what, ok := ownRoutes[r[0]]; ok {
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", r[0], cell(r[1]), cell(what))
		}
	}
	for r := range ownRoutes {
		if !served[r] {
			t.Errorf("ownRoutes names %s, which the hub does not serve", r)
		}
	}
	return b.String()
}

// concourseRoutesTable is the compatibility page's list of the Concourse
// routes the hub serves: every route that is not Switchyard's own.
func concourseRoutesTable() string {
	var b strings.Builder
	b.WriteString("| route | who may call it |\n|---|---|\n")
	for _, r := range server.RouteAccess() {
		if _, ok := ownRoutes[r[0]]; !ok {
			fmt.Fprintf(&b, "| `%s` | %s |\n", r[0], cell(r[1]))
		}
	}
	return b.String()
}

// spokeRoutesTable lists the spoke API's routes.
func spokeRoutesTable() string {
	var b strings.Builder
	b.WriteString("| route |\n|---|\n")
	for _, r := range gateway.RouteTable() {
		fmt.Fprintf(&b, "| `%s` |\n", r)
	}
	return b.String()
}

// The API reference and the compatibility page's routes are the hub's own
// route table: a route added shows up in one of them, with its access.
func TestGeneratedRoutes(t *testing.T) {
	generated(t, "docs/api.md", "own-routes", apiTable(t))
	generated(t, "docs/api.md", "spoke-routes", spokeRoutesTable())
	generated(t, "docs/compatibility.md", "concourse-routes", concourseRoutesTable())
}

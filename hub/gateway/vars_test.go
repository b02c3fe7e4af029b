package gateway_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/switchyard-ci/switchyard/hub/creds"
	"github.com/switchyard-ci/switchyard/hub/gateway"
	"github.com/switchyard-ci/switchyard/hub/intercept"
	"github.com/switchyard-ci/switchyard/hub/notify"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
	"github.com/switchyard-ci/switchyard/wire"
)

// A step placed by another replica (nothing handed over in this process) is
// resolved by the gateway itself: the spoke gets the values and the list to
// redact, the store keeps the ((vars)); a var that no longer resolves errors
// the step instead of reaching the spoke.
func TestStepsResolveTheirVars(t *testing.T) {
	ctx := t.Context()
	st := storetest.New(t)
	reg := &creds.Registry{Cluster: creds.Dummy{"main/token": "tok-value"}}
	g, err := gateway.New(ctx, gateway.Config{SpokeTokens: map[string]string{"pool-token": ""}, Creds: reg}, st, noWaker{},
		notify.New(), &intercept.Broker{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(g)
	defer hs.Close()
	code, body := call(t, "POST", hs.URL+wire.PathJoin, "", wire.JoinRequest{Name: "s1", Token: "pool-token", Runtime: "local"})
	var joined wire.JoinResponse
	if code != http.StatusOK || json.Unmarshal([]byte(body), &joined) != nil {
		t.Fatalf("join: %d %s", code, body)
	}

	team, err := st.SaveTeam(ctx, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.SavePipeline(ctx, store.SavePipelineParams{TeamID: team.ID, Name: "p", Config: json.RawMessage(`{"jobs":[{"name":"j"}]}`),
		Jobs: []store.Part{{Name: "j", Config: json.RawMessage(`{"name":"j"}`)}}})
	if err != nil {
		t.Fatal(err)
	}
	job, err := st.JobByName(ctx, p.ID, "j")
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.CreateJobBuild(ctx, job.ID, "test", true, json.RawMessage(`{"id":"1"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	step := func(plan, param string) store.Step {
		req, _ := json.Marshal(wire.StepRequest{Kind: wire.KindTask, Name: plan, Task: &wire.TaskRequest{Params: map[string]string{"A": param}}})
		s, err := st.EnsureStep(ctx, store.StepKey{BuildID: b.ID, PlanID: plan, Attempt: 1}, b.Fence, store.NewStep{Kind: "task", SpokeID: joined.SpokeID, Request: req})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good, bad := step("good", "((token))"), step("bad", "((gone))")

	code, body = call(t, "GET", hs.URL+wire.PathSteps+"?wait=0s", joined.Credential, nil)
	var steps wire.Steps
	if code != http.StatusOK || json.Unmarshal([]byte(body), &steps) != nil {
		t.Fatalf("steps: %d %s", code, body)
	}
	if len(steps.New) != 1 || steps.New[0].StepID != good.ID {
		t.Fatalf("handed out %+v, want only step %d", steps.New, good.ID)
	}
	if a := steps.New[0]; a.Request.Task.Params["A"] != "tok-value" || !slices.Contains(a.Redact, "tok-value") {
		t.Errorf("assignment %+v", a)
	}
	stored, err := st.Step(ctx, good.ID)
	if err != nil || strings.Contains(string(stored.Request), "tok-value") || !strings.Contains(string(stored.Request), "((token))") {
		t.Errorf("stored request %s, %v", stored.Request, err)
	}
	errored, err := st.Step(ctx, bad.ID)
	if err != nil || errored.State != store.StepErrored || !strings.Contains(string(errored.Result), "undefined vars: gone") {
		t.Errorf("the step whose var is gone: %+v, %v", errored, err)
	}
}

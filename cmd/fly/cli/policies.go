package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/placement"
)

// policyPath is a policy's route: the team's, or with --global the fleet's.
func policyPath(team, name string, global bool) string {
	if global {
		return "/api/v1/policies/" + url.PathEscape(name)
	}
	return "/api/v1/teams/" + url.PathEscape(team) + "/policies/" + url.PathEscape(name)
}

// setPolicy uploads a placement policy (Rego or WASM) as the policy's next
// version: fly set-policy -p NAME -f FILE [--global] [--on-error deny|skip].
func setPolicy(ctx context.Context, e *env, args []string) error {
	f := newFlags("set-policy", e)
	name := f.str("p", "policy", "policy name")
	file := f.str("f", "file", "policy file: .rego, or .wasm (OPA-compiled or Switchyard's JSON ABI)")
	onError := f.str("", "on-error", "when the policy fails: deny (the step waits, the default) or skip")
	global := f.boolean("", "global", "a policy for every team (admins only)")
	warnOnly := f.boolean("", "warn-only", "its admission denials (set_pipeline, use_image, use_privileged) warn instead of blocking")
	if err := f.parse(args, name, file); err != nil {
		return err
	}
	src, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return err
	}
	q := url.Values{}
	if *onError != "" {
		q.Set("on_error", *onError)
	}
	if *warnOnly {
		q.Set("admission", "warn")
	}
	path := policyPath(t.Team, *name, *global)
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var p api.Policy
	if _, err := c.Do(ctx, http.MethodPut, path, http.Header{"Content-Type": {"application/octet-stream"}}, src, &p); err != nil {
		return err
	}
	scope := "team " + t.Team
	if *global {
		scope = "every team"
	}
	mode := ""
	if p.WarnOnly {
		mode = ", admission warns only"
	}
	fmt.Fprintf(e.stdout, "policy %s version %d (%s, on error %s%s) is in force for %s\n", p.Name, p.Version, p.Engine, p.OnError, mode, scope)
	return nil
}

func policies(ctx context.Context, e *env, args []string) error {
	f := newFlags("policies", e)
	asJSON := f.boolean("", "json", "print JSON")
	if err := f.parse(args); err != nil {
		return err
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return err
	}
	var list []api.Policy
	if err := c.Get(ctx, "/api/v1/teams/"+url.PathEscape(t.Team)+"/policies", &list); err != nil {
		return err
	}
	if *asJSON {
		return e.printJSON(list)
	}
	rows := [][]string{}
	for _, p := range list {
		scope := p.Team
		if scope == "" {
			scope = "global"
		}
		admission := "enforce"
		if p.WarnOnly {
			admission = "warn"
		}
		rows = append(rows, []string{p.Name, scope, fmt.Sprint(p.Version), p.Engine, p.OnError, admission})
	}
	e.table([]string{"name", "team", "version", "engine", "on error", "admission"}, rows)
	return nil
}

func destroyPolicy(ctx context.Context, e *env, args []string) error {
	f := newFlags("destroy-policy", e)
	name := f.str("p", "policy", "policy name")
	global := f.boolean("", "global", "the global policy of that name (admins only)")
	if err := f.parse(args, name); err != nil {
		return err
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return err
	}
	if _, err := c.Do(ctx, http.MethodDelete, policyPath(t.Team, *name, *global), nil, nil, nil); err != nil {
		if errors.Is(err, api.ErrNotFound) {
			return fmt.Errorf("policy %s not found", *name)
		}
		return err
	}
	fmt.Fprintf(e.stdout, "policy %s destroyed\n", *name)
	return nil
}

// placementCmd explains where a build's steps went: fly placement -b BUILD
// [-s STEP], or -j PIPELINE/JOB [-b NAME].
func placementCmd(ctx context.Context, e *env, args []string) error {
	f := newFlags("placement", e)
	ref := addBuildFlags(f)
	step := f.str("s", "step", "only this step")
	asJSON := f.boolean("", "json", "print JSON")
	if err := f.parse(args); err != nil {
		return err
	}
	c, id, err := ref.find(ctx, e, "name the build: -b BUILD_ID, or -j PIPELINE/JOB [-b BUILD_NAME]")
	if err != nil {
		return err
	}
	var list []api.Placement
	if err := c.Get(ctx, fmt.Sprintf("/api/v1/builds/%d/placement", id), &list); err != nil {
		return err
	}
	var kept []api.Placement
	for _, p := range list {
		if *step == "" || p.StepName == *step {
			kept = append(kept, p)
		}
	}
	if *asJSON {
		return e.printJSON(kept)
	}
	if len(kept) == 0 {
		return fmt.Errorf("build %d has no placement decisions yet%s", id, map[bool]string{true: " for step " + *step, false: ""}[*step != ""])
	}
	for _, p := range kept {
		var d placement.Decision
		if err := json.Unmarshal(p.Decision, &d); err != nil {
			return err
		}
		if p.Spoke == "" {
			fmt.Fprintf(e.stdout, "step %s → no spoke yet: %s\n", p.StepName, d.Reason)
		} else {
			fmt.Fprintf(e.stdout, "step %s → %s\n", p.StepName, p.Spoke)
		}
		d.Explain(e.stdout)
	}
	return nil
}

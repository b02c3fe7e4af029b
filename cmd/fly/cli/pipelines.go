package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/pipeline"
)

func setPipeline(ctx context.Context, e *env, args []string) error {
	f := newFlags("set-pipeline", e)
	name := f.str("p", "pipeline", "pipeline to configure")
	file := f.str("c", "config", "pipeline configuration file")
	vars := f.list("v", "var", "NAME=VALUE: a string var")
	yvars := f.list("y", "yaml-var", "NAME=YAML: a YAML var")
	files := f.list("l", "load-vars-from", "FILE: vars from a YAML file")
	ivars := f.list("i", "instance-var", "NAME=YAML: an instance var: sets the instance of the pipeline with these vars (also a var)")
	yes := f.boolean("n", "non-interactive", "apply without asking")
	checkCreds := f.boolean("", "check-creds", "refuse the config if a ((var)) in it resolves from no var source or credential manager")
	if err := f.parse(args, name, file); err != nil {
		return err
	}
	v := pipeline.Vars{}
	for _, l := range *files {
		if err := v.LoadFile(l); err != nil {
			return err
		}
	}
	for _, kv := range *vars {
		if err := v.SetString(kv); err != nil {
			return err
		}
	}
	for _, kv := range *yvars {
		if err := v.SetYAML(kv); err != nil {
			return err
		}
	}
	instance := pipeline.Vars{}
	for _, kv := range *ivars {
		if err := instance.SetYAML(kv); err != nil {
			return err
		}
		if err := v.SetYAML(kv); err != nil {
			return err
		}
	}
	if strings.Contains(*name, "/") {
		return fmt.Errorf("pipeline name %q cannot contain '/': give an instance's vars with -i NAME=VALUE", *name)
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	// Interpolate like fly (unresolved vars stay) and check locally with the
	// same code the hub runs.
	loaded, err := pipeline.Load(data, pipeline.Options{File: *file, Vars: v})
	if err != nil {
		return invalidConfig(err)
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return err
	}
	path := api.InstancePath(t.Team, *name, instance)
	var existing api.ConfigResponse
	version := ""
	res, err := c.Do(ctx, http.MethodGet, path+"/config", nil, nil, &existing)
	switch {
	case errors.Is(err, api.ErrNotFound):
	case err != nil:
		return err
	default:
		version = res.Header.Get("X-Concourse-Config-Version")
	}
	oldYAML, newYAML := toYAML(existing.Config), toYAML(loaded.JSON)
	if oldYAML == newYAML {
		fmt.Fprintln(e.stdout, "no changes to apply")
		return nil
	}
	e.diff(oldYAML, newYAML)
	for _, w := range loaded.Warnings {
		fmt.Fprintf(e.stderr, "%s %s\n", e.colour("33", "WARNING:"), w.Error.Error())
	}
	if !*yes && !e.confirm("apply configuration?") {
		return errors.New("bailing out")
	}
	hdr := http.Header{"X-Concourse-Config-Version": {version}}
	var saved api.SaveConfigResponse
	configPath := path + "/config"
	if *checkCreds {
		configPath += "?check_creds="
	}
	res, err = c.Do(ctx, http.MethodPut, configPath, hdr, []byte(loaded.JSON), &saved)
	var bad *api.BadRequestError
	if errors.As(err, &bad) {
		return fmt.Errorf("invalid pipeline config:\n%s", strings.Join(bad.Errors, "\n"))
	}
	var refused api.SaveConfigResponse
	if err != nil && res != nil && res.Status == http.StatusForbidden && json.Unmarshal(res.Body, &refused) == nil && len(refused.Errors) > 0 {
		return fmt.Errorf("policy check failed:\n  - %s", strings.Join(refused.Errors, "\n  - "))
	}
	if err != nil {
		return err
	}
	for _, w := range saved.Warnings {
		fmt.Fprintf(e.stderr, "%s %s\n", e.colour("33", "WARNING:"), w.Message)
	}
	if res.Status == http.StatusCreated {
		ref := *name
		if len(instance) > 0 {
			raw, _ := json.Marshal(instance)
			ref += "/" + api.FlattenInstanceVars(string(raw))
		}
		fmt.Fprintf(e.stdout, "pipeline created!\nyou can view your pipeline here: %s/teams/%s/pipelines/%s\n", t.API, t.Team, *name)
		var p api.Pipeline
		if err := c.Get(ctx, path, &p); err == nil && p.Paused {
			fmt.Fprintf(e.stdout, "\nthe pipeline is currently paused. to unpause, either:\n  - run the unpause-pipeline command:\n    fly -t %s unpause-pipeline -p %s\n  - click play next to the pipeline in the web ui\n", e.target, ref)
		}
		return nil
	}
	fmt.Fprintln(e.stdout, "configuration updated")
	return nil
}

// toYAML renders stored or local config JSON as YAML for diffs and get-pipeline.
func toYAML(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var x any
	if err := json.Unmarshal(raw, &x); err != nil {
		return string(raw)
	}
	out, _ := yaml.Marshal(x)
	return string(out)
}

// diff prints the lines that differ between two configs (pipeline.Diff).
func (e *env) diff(old, new string) {
	lines, ok := pipeline.Diff(old, new)
	if !ok {
		fmt.Fprintf(e.stdout, "the configuration changes (%d lines before, %d after; too large to diff line by line)\n", strings.Count(old, "\n")+1, strings.Count(new, "\n")+1)
		return
	}
	for _, l := range lines {
		colour := "32"
		if strings.HasPrefix(l, "-") {
			colour = "31"
		}
		fmt.Fprintln(e.stdout, e.colour(colour, l))
	}
}

func getPipeline(ctx context.Context, e *env, args []string) error {
	f := newFlags("get-pipeline", e)
	name := f.str("p", "pipeline", "pipeline")
	asJSON := f.boolean("j", "json", "print JSON")
	if err := f.parse(args, name); err != nil {
		return err
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return err
	}
	var cfg api.ConfigResponse
	err = c.Get(ctx, api.PipelinePath(t.Team, *name)+"/config", &cfg)
	if errors.Is(err, api.ErrNotFound) {
		return errors.New("pipeline not found")
	}
	if err != nil {
		return err
	}
	if *asJSON {
		var x any
		_ = json.Unmarshal(cfg.Config, &x)
		return e.printJSON(x)
	}
	fmt.Fprint(e.stdout, toYAML(cfg.Config))
	return nil
}

func pipelines(ctx context.Context, e *env, args []string) error {
	f := newFlags("pipelines", e)
	all := f.boolean("a", "all", "every team's pipelines")
	archived := f.boolean("", "include-archived", "include archived pipelines")
	asJSON := f.boolean("", "json", "print JSON")
	if err := f.Parse(args); err != nil {
		return err
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return err
	}
	path := "/api/v1/teams/" + t.Team + "/pipelines"
	if *all {
		path = "/api/v1/pipelines"
	}
	var ps []api.Pipeline
	if err := c.Get(ctx, path, &ps); err != nil {
		return err
	}
	shown := []api.Pipeline{}
	for _, p := range ps {
		if p.Archived && !*archived {
			continue
		}
		shown = append(shown, p)
	}
	if *asJSON {
		return e.printJSON(shown)
	}
	header := []string{"id", "name", "paused", "public", "last updated"}
	if *all {
		header = []string{"id", "name", "team", "paused", "public", "last updated"}
	}
	rows := [][]string{}
	for _, p := range shown {
		name := p.Name
		if len(p.InstanceVars) > 0 {
			name += "/" + api.FlattenInstanceVars(string(p.InstanceVars))
		}
		row := []string{strconv.FormatInt(p.ID, 10), name}
		if *all {
			row = append(row, p.TeamName)
		}
		updated := "n/a"
		if p.LastUpdated > 0 {
			updated = time.Unix(p.LastUpdated, 0).Format("2006-01-02 15:04:05 MST")
		}
		rows = append(rows, append(row, yesNo(p.Paused), yesNo(p.Public), updated))
	}
	e.table(header, rows)
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// pipelineAction is a command that PUTs one action to a pipeline:
// pause-pipeline, unpause-pipeline, trust-pipeline, untrust-pipeline.
func pipelineAction(cmd, action, word string) func(context.Context, *env, []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		f := newFlags(cmd, e)
		name := f.str("p", "pipeline", "pipeline")
		if err := f.parse(args, name); err != nil {
			return err
		}
		if err := putPipeline(ctx, e, *name, action, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s '%s'\n", word, *name)
		return nil
	}
}

// putPipeline PUTs body to one of the target team's pipeline's routes
// (action: "/pause", "/rename", ...), naming the pipeline when it is not
// found.
func putPipeline(ctx context.Context, e *env, name, action string, body any) error {
	c, t, err := e.client(ctx)
	if err != nil {
		return err
	}
	_, err = c.Do(ctx, http.MethodPut, api.PipelinePath(t.Team, name)+action, nil, body, nil)
	if errors.Is(err, api.ErrNotFound) {
		return fmt.Errorf("pipeline '%s' not found", name)
	}
	return err
}

func destroyPipeline(ctx context.Context, e *env, args []string) error {
	f := newFlags("destroy-pipeline", e)
	name := f.str("p", "pipeline", "pipeline")
	yes := f.boolean("n", "non-interactive", "destroy without asking")
	if err := f.parse(args, name); err != nil {
		return err
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return err
	}
	path := api.PipelinePath(t.Team, *name)
	if err := c.Get(ctx, path, nil); errors.Is(err, api.ErrNotFound) {
		fmt.Fprintf(e.stdout, "`%s` does not exist\n", *name)
		return nil
	} else if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "!!! this will remove all data for pipeline `%s`\n\n", *name)
	if !*yes && !e.confirm("are you sure?") {
		return errors.New("bailing out")
	}
	if _, err := c.Do(ctx, http.MethodDelete, path, nil, nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "`%s` deleted\n", *name)
	return nil
}

func archivePipeline(ctx context.Context, e *env, args []string) error {
	f := newFlags("archive-pipeline", e)
	name := f.str("p", "pipeline", "pipeline")
	yes := f.boolean("n", "non-interactive", "archive without asking")
	if err := f.parse(args, name); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "!!! archiving the pipeline will remove its configuration. Build history will be retained.\n\n")
	if !*yes && !e.confirm(fmt.Sprintf("archive pipeline '%s'?", *name)) {
		return errors.New("bailing out")
	}
	if err := putPipeline(ctx, e, *name, "/archive", nil); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "archived '%s'\n", *name)
	return nil
}

func renamePipeline(ctx context.Context, e *env, args []string) error {
	f := newFlags("rename-pipeline", e)
	from := f.str("o", "old-name", "the pipeline's name")
	to := f.str("n", "new-name", "its new name")
	if err := f.parse(args, from, to); err != nil {
		return err
	}
	if err := putPipeline(ctx, e, *from, "/rename", map[string]string{"name": *to}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "pipeline successfully renamed to '%s'\n", *to)
	return nil
}

func orderPipelines(ctx context.Context, e *env, args []string) error {
	f := newFlags("order-pipelines", e)
	names := f.list("p", "pipeline", "a pipeline, in the order wanted (repeatable)")
	alpha := f.boolean("a", "alphabetical", "order all of the team's pipelines by name")
	if err := f.parse(args); err != nil {
		return err
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return err
	}
	order := *names
	if *alpha {
		var ps []api.Pipeline
		if err := c.Get(ctx, "/api/v1/teams/"+url.PathEscape(t.Team)+"/pipelines", &ps); err != nil {
			return err
		}
		seen := map[string]bool{}
		order = nil
		for _, p := range ps {
			if !seen[p.Name] {
				seen[p.Name] = true
				order = append(order, p.Name)
			}
		}
		sort.Strings(order)
	}
	if len(order) == 0 {
		return errors.New("give the pipelines with -p, or -a to order them all by name")
	}
	for _, n := range order {
		if strings.Contains(n, "/") {
			return fmt.Errorf("pipeline name %q cannot contain '/'", n)
		}
	}
	if _, err := c.Do(ctx, http.MethodPut, "/api/v1/teams/"+url.PathEscape(t.Team)+"/pipelines/ordering", nil, order, nil); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "ordered pipelines")
	for _, n := range order {
		fmt.Fprintf(e.stdout, "  - %s\n", n)
	}
	return nil
}

// orderInstancedPipelines is fly order-instanced-pipelines -g GROUP -p k:v
// (repeatable): the group's instances in the order wanted.
func orderInstancedPipelines(ctx context.Context, e *env, args []string) error {
	f := newFlags("order-instanced-pipelines", e)
	group := f.str("g", "group", "the instance group: the pipelines' name")
	instances := f.list("p", "pipeline", "an instance's vars as k:v,k2:v2, in the order wanted (repeatable)")
	if err := f.parse(args, group); err != nil {
		return err
	}
	if len(*instances) == 0 {
		return errors.New("give the instances with -p k:v, in the order wanted")
	}
	order := make([]map[string]any, len(*instances))
	for i, iv := range *instances {
		var err error
		if order[i], err = api.ParseInstanceVars(iv); err != nil {
			return err
		}
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return err
	}
	if _, err := c.Do(ctx, http.MethodPut, api.PipelinePath(t.Team, *group)+"/ordering", nil, order, nil); err != nil {
		return fmt.Errorf("failed to order instanced pipelines: %w", err)
	}
	fmt.Fprintln(e.stdout, "ordered instanced pipelines")
	for _, iv := range *instances {
		fmt.Fprintf(e.stdout, "  - %s\n", iv)
	}
	return nil
}

// invalidConfig words a config's load errors as fly does, one per line.
func invalidConfig(err error) error {
	var list pipeline.Errors
	if !errors.As(err, &list) {
		return err
	}
	msgs := make([]string, len(list))
	for i, le := range list {
		msgs[i] = le.Error()
	}
	return fmt.Errorf("invalid pipeline config:\n%s", strings.Join(msgs, "\n"))
}

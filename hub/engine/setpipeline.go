package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/setpipeline"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/vars"
)

// set_pipeline: the hub reads the config file and var_files through the
// spoke that holds their artifact, fills the step's vars, var_files and
// instance_vars in as fly set-pipeline fills -v, -l and -i, asks the
// policies in force as fly set-pipeline does, and saves the pipeline with
// the job and build that set it. Its log shows the diff, as Concourse's. A
// pipeline the step creates is unpaused, as in Concourse; one a newer build
// of the job set is left alone.

func (r *run) setPipeline(ctx context.Context, p *pipeline.Plan) (bool, error) {
	sp := p.SetPipeline
	say := func(format string, args ...any) { r.logLine(ctx, p.ID, "stdout", fmt.Sprintf(format, args...)) }
	team := store.Team{ID: r.build.TeamID, Name: r.build.TeamName}
	name, instanceVars := sp.Name, sp.InstanceVars
	resolver, err := r.vars(ctx)
	if err != nil {
		return false, err
	}
	if name == "self" {
		if r.build.PipelineID == 0 {
			return false, errors.New("set_pipeline: self is only for a pipeline's builds")
		}
		name = r.build.PipelineName
		if r.build.InstanceVars != "" {
			if err := json.Unmarshal([]byte(r.build.InstanceVars), &instanceVars); err != nil {
				return false, fmt.Errorf("set_pipeline: self: the pipeline's instance vars: %w", err)
			}
		}
	} else if err := pipeline.CheckName(name); err != nil {
		return false, fmt.Errorf("set_pipeline: pipeline %w", err)
	}
	if sp.Team != "" && sp.Team != team.Name {
		if team.Name != "main" {
			return false, fmt.Errorf("set_pipeline %s: only the main team can set another team's pipelines (this build is team %s's, the step names team %s)", name, team.Name, sp.Team)
		}
		if team, err = r.e.store.TeamByName(ctx, sp.Team); err != nil {
			return false, fmt.Errorf("set_pipeline %s: team %s: %w", name, sp.Team, err)
		}
	}

	// Precedence as Concourse's: instance_vars, then vars, then the
	// var_files in order (the first that has a var wins). The step's own
	// vars may hold ((vars)) of the build's.
	static := pipeline.Vars{}
	for i := len(sp.VarFiles) - 1; i >= 0; i-- {
		file := sp.VarFiles[i]
		data, err := r.readFile(ctx, fmt.Sprintf("%s/var_files/%d", p.ID, i), file, nil, nil)
		if err != nil {
			return false, fmt.Errorf("set_pipeline %s: var_files: %w", name, err)
		}
		if err := static.LoadData(file, data); err != nil {
			return false, fmt.Errorf("set_pipeline %s: %w", name, err)
		}
	}
	iv := "" // the instance vars filled in, as canonical JSON
	for i, m := range []map[string]any{sp.Vars, instanceVars} {
		if len(m) == 0 {
			continue
		}
		filled, err := vars.Interpolate(ctx, m, resolver)
		if err != nil {
			return false, fmt.Errorf("set_pipeline %s: %w", name, err)
		}
		for k, v := range filled.(map[string]any) {
			static[k] = v
		}
		if i == 1 {
			raw, _ := json.Marshal(filled) // maps marshal with sorted keys: canonical
			iv = string(raw)
		}
	}
	data, err := r.readFile(ctx, p.ID+"/file", sp.File, nil, nil)
	if err != nil {
		return false, fmt.Errorf("set_pipeline %s: %w", name, err)
	}
	loaded, err := pipeline.Load(data, pipeline.Options{File: sp.File, Vars: static})
	if err != nil {
		return false, fmt.Errorf("set_pipeline %s: invalid pipeline config:\n%w", name, err)
	}
	verdict, err := r.e.placer.Admit(ctx, team.ID, setpipeline.Questions(team.Name, r.build.CreatedBy, name, loaded))
	if err != nil {
		return false, err
	}
	for _, w := range loaded.Warnings {
		r.logLine(ctx, p.ID, "stderr", fmt.Sprintf("WARNING: %v\n", w.Error))
	}
	for _, w := range verdict.Warnings {
		r.logLine(ctx, p.ID, "stderr", "WARNING: policy: "+w+"\n")
	}
	if len(verdict.Blocked) > 0 {
		return false, fmt.Errorf("set_pipeline %s: refused by policy:\n%s", name, strings.Join(verdict.Blocked, "\n"))
	}

	params, err := setpipeline.Params(loaded)
	if err != nil {
		return false, err
	}
	old, from, err := r.e.store.PipelineConfig(ctx, team.ID, name, iv)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	display := name
	if iv != "" {
		display += "/" + api.FlattenInstanceVars(iv)
	}
	// The diff goes out as one log event: a line each would cost a
	// transaction a line.
	var diff strings.Builder
	fmt.Fprintf(&diff, "setting pipeline: %s\n", display)
	lines, ok := pipeline.Diff(configYAML(old), configYAML(loaded.JSON))
	if !ok {
		diff.WriteString("the configuration changes (too large to diff line by line)\n")
	}
	if ok && len(lines) == 0 {
		diff.WriteString("no changes to apply.\n")
	}
	for _, l := range lines {
		diff.WriteString(l + "\n")
	}
	say("%s", diff.String())
	params.TeamID, params.Name, params.InstanceVars, params.FromVersion = team.ID, name, iv, from
	params.ParentJobID, params.ParentBuildID = r.build.JobID, r.build.ID
	saved, err := r.e.store.SavePipeline(ctx, params)
	if errors.Is(err, store.ErrSetByNewerBuild) {
		say("configuration was set by a newer build of this job: skipping\n")
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if from == 0 { // new, or archived: set pipelines run, as in Concourse
		unpaused := false
		if err := r.e.store.UpdatePipeline(ctx, saved.ID, store.PipelineChange{Paused: &unpaused}); err != nil {
			return false, err
		}
	}
	r.e.WakeScheduler()
	say("done\n")
	return true, nil
}

// configYAML renders a stored config as YAML for a diff ("" for none).
func configYAML(raw json.RawMessage) string {
	var x any
	if len(raw) == 0 || json.Unmarshal(raw, &x) != nil || x == nil {
		return ""
	}
	if m, ok := x.(map[string]any); ok && len(m) == 0 {
		return ""
	}
	out, _ := yaml.Marshal(x)
	return string(out)
}

// logLine adds a line of a step's log that the hub writes.
func (r *run) logLine(ctx context.Context, planID, source, text string) {
	payload, _ := json.Marshal(api.LogEvent{Time: time.Now().Unix(), Origin: api.Origin{ID: planID, Source: source}, Payload: text})
	r.appendEvent(ctx, store.Event{Type: api.EventLog, Version: api.EventVersions[api.EventLog], Payload: payload})
}

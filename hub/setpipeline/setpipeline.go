package setpipeline

import (
	"encoding/json"

	"github.com/switchyard-ci/switchyard/hub/placer"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/pipeline"
)

// Params splits a loaded config into the rows the store keeps: resources,
// types, and jobs with their compiled plans and inputs.
func Params(p *pipeline.Pipeline) (store.SavePipelineParams, error) {
	var raw struct {
		Resources     []json.RawMessage `json:"resources"`
		ResourceTypes []json.RawMessage `json:"resource_types"`
		Jobs          []json.RawMessage `json:"jobs"`
	}
	if err := json.Unmarshal(p.JSON, &raw); err != nil {
		return store.SavePipelineParams{}, err
	}
	out := store.SavePipelineParams{Config: p.JSON}
	for i, r := range p.Config.Resources {
		out.Resources = append(out.Resources, store.Part{Name: r.Name, Type: r.Type, Config: raw.Resources[i]})
	}
	for i, t := range p.Config.ResourceTypes {
		out.ResourceTypes = append(out.ResourceTypes, store.Part{Name: t.Name, Type: t.Type, Config: raw.ResourceTypes[i]})
	}
	for i := range p.Config.Jobs {
		j := &p.Config.Jobs[i]
		plan, err := p.Config.CompileJob(j.Name)
		if err != nil {
			return store.SavePipelineParams{}, err
		}
		planJSON, err := json.Marshal(plan)
		if err != nil {
			return store.SavePipelineParams{}, err
		}
		r := j.Retention()
		sched := &store.JobSchedule{Plan: planJSON, MaxInFlight: j.MaxInFlightOf(), SerialGroups: j.SerialGroups,
			Retention: store.Retention{Builds: r.Builds, Days: r.Days, MinSucceeded: r.MinimumSucceededBuilds}}
		for _, in := range j.Inputs() {
			sched.Inputs = append(sched.Inputs, store.JobInput(in))
		}
		out.Jobs = append(out.Jobs, store.Part{Name: j.Name, Public: j.Public, Config: raw.Jobs[i], Job: sched})
	}
	return out, nil
}

// Questions are what the policies in force are asked about a pipeline about
// to be saved: setting it, each task's image, and each privileged task.
func Questions(team, user, name string, loaded *pipeline.Pipeline) []placer.Question {
	ask := func(action string, data any) placer.Question {
		return placer.Question{Action: action, Team: team, User: user, Pipeline: name, Data: data}
	}
	questions := []placer.Question{ask("set_pipeline", json.RawMessage(loaded.JSON))}
	for _, u := range loaded.Config.TaskUses() {
		if u.Image != "" {
			questions = append(questions, ask("use_image", u))
		}
		if u.Privileged {
			questions = append(questions, ask("use_privileged", u))
		}
	}
	return questions
}

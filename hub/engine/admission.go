package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/placer"
	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/wire"
)

// Admission as a task is about to run: the policies in force are asked
// about its image and privilege.

// admitTask asks the policies in force, as the task is about to run, about
// its image and its privilege (Concourse checks both as steps run; fly
// execute's one-off builds are checked nowhere else). A blocking answer
// errors the step with the reasons; warnings go to its log.
func (r *run) admitTask(ctx context.Context, planID string, req wire.StepRequest) error {
	t := req.Task
	if t == nil || t.Config == nil {
		return nil
	}
	use := pipeline.TaskUse{Job: r.build.JobName, Step: req.Name, Image: imageOf(t.Config), Privileged: t.Privileged}
	if t.Image != "" { // image: a get's artifact; policies see the image it fetched
		use.Image = t.Image
		var src map[string]any
		if json.Unmarshal(t.ImageSource, &src) == nil {
			if image := pipeline.RegistryImage(src); image != "" {
				use.Image = image
			}
		}
	}
	ask := func(action string) placer.Question {
		return placer.Question{Action: action, Team: r.build.TeamName, User: r.build.CreatedBy, Pipeline: r.build.PipelineName, Data: use}
	}
	var questions []placer.Question
	if use.Image != "" {
		questions = append(questions, ask("use_image"))
	}
	if use.Privileged {
		questions = append(questions, ask("use_privileged"))
	}
	if len(questions) == 0 {
		return nil
	}
	v, err := r.e.placer.Admit(ctx, r.build.TeamID, questions)
	if err != nil {
		return err
	}
	for _, w := range v.Warnings {
		payload, _ := json.Marshal(api.LogEvent{Time: time.Now().Unix(), Origin: api.Origin{ID: planID, Source: "stderr"}, Payload: "policy check warning: " + w + "\n"})
		r.appendEvent(ctx, event(api.EventLog, payload))
	}
	if len(v.Blocked) > 0 {
		return fmt.Errorf("policy check failed: %s", strings.Join(v.Blocked, "; "))
	}
	return nil
}

// imageOf names a task's image as policies see it: its image_resource's
// repository and tag, or its rootfs_uri.
func imageOf(cfg *pipeline.TaskConfig) string {
	if ir := cfg.ImageResource; ir != nil {
		return pipeline.RegistryImage(ir.Source)
	}
	return cfg.RootfsURI
}

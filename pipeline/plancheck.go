package pipeline

import (
	"fmt"
	"strings"
)

// Children returns a plan node's direct sub-plans (hooks included).
func (p *Plan) Children() []*Plan {
	var out []*Plan
	add := func(ps ...*Plan) { out = append(out, ps...) }
	list := func(ps []Plan) {
		for i := range ps {
			add(&ps[i])
		}
	}
	switch {
	case p.Do != nil:
		list(*p.Do)
	case p.Retry != nil:
		list(*p.Retry)
	case p.InParallel != nil:
		list(p.InParallel.Steps)
	case p.Try != nil:
		add(&p.Try.Step)
	case p.Timeout != nil:
		add(&p.Timeout.Step)
	case p.OnSuccess != nil:
		add(&p.OnSuccess.Step, &p.OnSuccess.Next)
	case p.OnFailure != nil:
		add(&p.OnFailure.Step, &p.OnFailure.Next)
	case p.OnAbort != nil:
		add(&p.OnAbort.Step, &p.OnAbort.Next)
	case p.OnError != nil:
		add(&p.OnError.Step, &p.OnError.Next)
	case p.Ensure != nil:
		add(&p.Ensure.Step, &p.Ensure.Next)
	}
	return out
}

// maxPlanDepth bounds how deep a plan sent through the API may nest.
const maxPlanDepth = 256

// CheckPaths says why a plan (a one-off build's, sent by fly execute) holds a
// name that would become a path outside its place on a spoke: artifact
// names, mappings, task inputs' and outputs' names and paths, config paths.
// Compiled pipelines are checked when they are set; this is the same wall for
// plans that come from the API.
func (p *Plan) CheckPaths() error { return p.checkPaths(0) }

func (p *Plan) checkPaths(depth int) error {
	if depth > maxPlanDepth {
		return fmt.Errorf("plan %s nests deeper than %d levels", p.ID, maxPlanDepth)
	}
	bad := func(what string, err error) error { return fmt.Errorf("plan %s: %s: %w", p.ID, what, err) }
	var names []string
	switch {
	case p.Get != nil:
		names = append(names, p.Get.Name)
	case p.Put != nil:
		names = append(names, p.Put.Name)
		if list, ok := p.Put.Inputs.([]any); ok {
			for _, in := range list {
				if s, ok := in.(string); ok {
					names = append(names, s)
				}
			}
		}
	case p.ArtifactInput != nil:
		names = append(names, p.ArtifactInput.Name)
	case p.ArtifactOutput != nil:
		names = append(names, p.ArtifactOutput.Name)
	case p.Task != nil:
		t := p.Task
		for k, v := range t.InputMapping {
			names = append(names, k, v)
		}
		for k, v := range t.OutputMapping {
			names = append(names, k, v)
		}
		if t.Image != "" {
			names = append(names, t.Image)
		}
		if t.ConfigPath != "" {
			artifact, rest, _ := strings.Cut(t.ConfigPath, "/")
			names = append(names, artifact)
			if err := CheckRelPath(rest); err != nil || rest == "" {
				return bad("config_path", fmt.Errorf("%q: give ARTIFACT/PATH, a file inside an artifact", t.ConfigPath))
			}
		}
		if t.Config != nil {
			if err := CheckTaskPaths(t.Config); err != nil {
				return bad("task "+t.Name, err)
			}
		}
	}
	for _, n := range names {
		if n == "" {
			continue
		}
		if err := CheckName(n); err != nil {
			return bad("artifact", err)
		}
	}
	for _, c := range p.Children() {
		if err := c.checkPaths(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

// CheckTaskPaths says why a task config's inputs, outputs, caches or run.dir
// would leave the task's working directory; spokes check the configs they
// read from files with it too.
func CheckTaskPaths(c *TaskConfig) error {
	for _, in := range c.Inputs {
		if err := CheckName(in.Name); err != nil {
			return fmt.Errorf("input: %w", err)
		}
		if err := CheckRelPath(in.Path); err != nil {
			return fmt.Errorf("input %s: %w", in.Name, err)
		}
	}
	for _, o := range c.Outputs {
		if err := CheckName(o.Name); err != nil {
			return fmt.Errorf("output: %w", err)
		}
		if err := CheckRelPath(o.Path); err != nil {
			return fmt.Errorf("output %s: %w", o.Name, err)
		}
	}
	for _, cache := range c.Caches {
		if err := CheckRelPath(cache.Path); err != nil {
			return fmt.Errorf("cache: %w", err)
		}
	}
	if c.Run != nil {
		if err := CheckRelPath(c.Run.Dir); err != nil {
			return fmt.Errorf("run.dir: %w", err)
		}
	}
	return nil
}

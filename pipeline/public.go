package pipeline

// Public is a plan as Concourse shows it to anyone who may read the build
// (GET /api/v1/builds/B/plan, the plan of image-check, image-get and
// across-substeps events): the same tree with reduced step bodies, never a
// source, params or vars.
func Public(p Plan) map[string]any {
	out := map[string]any{}
	if p.ID != "" {
		out["id"] = p.ID
	}
	plans := func(ps []Plan) []any {
		list := make([]any, len(ps))
		for i, c := range ps {
			list[i] = Public(c)
		}
		return list
	}
	hook := func(key string, step, next Plan) {
		out[key] = map[string]any{"step": Public(step), key: Public(next)}
	}
	switch {
	case p.Get != nil:
		g := omitEmpty(map[string]any{"name": p.Get.Name, "type": p.Get.Type, "resource": p.Get.Resource})
		if p.Get.Version != nil {
			g["version"] = p.Get.Version
		}
		typeImage(g, p.Get.Image)
		out["get"] = g
	case p.Put != nil:
		u := omitEmpty(map[string]any{"name": p.Put.Name, "type": p.Put.Type, "resource": p.Put.Resource})
		typeImage(u, p.Put.Image)
		out["put"] = u
	case p.Check != nil:
		c := omitEmpty(map[string]any{"name": p.Check.Name, "type": p.Check.Type})
		typeImage(c, p.Check.Image)
		out["check"] = c
	case p.Task != nil:
		out["task"] = map[string]any{"name": p.Task.Name, "privileged": p.Task.Privileged, "hermetic": p.Task.Hermetic}
	case p.SetPipeline != nil:
		s := omitEmpty(map[string]any{"name": p.SetPipeline.Name, "team": p.SetPipeline.Team})
		if len(p.SetPipeline.InstanceVars) > 0 {
			s["instance_vars"] = p.SetPipeline.InstanceVars
		}
		out["set_pipeline"] = s
	case p.LoadVar != nil:
		out["load_var"] = map[string]any{"name": p.LoadVar.Name}
	case p.Across != nil:
		vars := make([]any, len(p.Across.Vars))
		for i, v := range p.Across.Vars {
			vars[i] = map[string]any{"name": v.Var}
		}
		out["across"] = map[string]any{"vars": vars, "fail_fast": p.Across.FailFast}
	case p.Do != nil:
		out["do"] = plans(*p.Do)
	case p.Retry != nil:
		out["retry"] = plans(*p.Retry)
	case p.InParallel != nil:
		out["in_parallel"] = map[string]any{"steps": plans(p.InParallel.Steps), "limit": p.InParallel.Limit, "fail_fast": p.InParallel.FailFast}
	case p.Try != nil:
		out["try"] = map[string]any{"step": Public(p.Try.Step)}
	case p.Timeout != nil:
		out["timeout"] = map[string]any{"step": Public(p.Timeout.Step), "duration": p.Timeout.Duration}
	case p.OnSuccess != nil:
		hook("on_success", p.OnSuccess.Step, p.OnSuccess.Next)
	case p.OnFailure != nil:
		hook("on_failure", p.OnFailure.Step, p.OnFailure.Next)
	case p.OnAbort != nil:
		hook("on_abort", p.OnAbort.Step, p.OnAbort.Next)
	case p.OnError != nil:
		hook("on_error", p.OnError.Step, p.OnError.Next)
	case p.Ensure != nil:
		hook("ensure", p.Ensure.Step, p.Ensure.Next)
	case p.ArtifactInput != nil:
		out["artifact_input"] = p.ArtifactInput
	case p.ArtifactOutput != nil:
		out["artifact_output"] = p.ArtifactOutput
	}
	return out
}

// typeImage adds a custom type's image check and get, as public plans.
func typeImage(body map[string]any, image TypeImage) {
	if image.CheckPlan != nil {
		body["image_check_plan"] = Public(*image.CheckPlan)
	}
	if image.GetPlan != nil {
		body["image_get_plan"] = Public(*image.GetPlan)
	}
}

func omitEmpty(m map[string]any) map[string]any {
	for k, v := range m {
		if s, ok := v.(string); ok && s == "" {
			delete(m, k)
		}
	}
	return m
}

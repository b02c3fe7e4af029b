package pipeline

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
)

// CompileJob compiles a job of a validated config into its build plan: a do over
// its steps wrapped by the job's hooks, as Concourse's planner builds it. Ids are
// handed out depth-first from 1, so the same config always compiles to the same
// ids; get steps have no version yet (the scheduler picks it per build).
func (c *Config) CompileJob(name string) (Plan, error) {
	for i := range c.Jobs {
		if c.Jobs[i].Name == name {
			return newCompiler(c).job(&c.Jobs[i])
		}
	}
	return Plan{}, fmt.Errorf("compile job %q: no such job in the pipeline", name)
}

type compiler struct {
	cfg       *Config
	next      int64
	resources map[string]*Resource
	types     map[string]*ResourceType
}

func newCompiler(cfg *Config) *compiler {
	c := &compiler{cfg: cfg, resources: map[string]*Resource{}, types: map[string]*ResourceType{}}
	for i := range cfg.Resources {
		c.resources[cfg.Resources[i].Name] = &cfg.Resources[i]
	}
	for i := range cfg.ResourceTypes {
		c.types[cfg.ResourceTypes[i].Name] = &cfg.ResourceTypes[i]
	}
	return c
}

func (c *compiler) id() string {
	c.next++
	return strconv.FormatInt(c.next, 16)
}

func (c *compiler) job(j *Job) (plan Plan, err error) {
	defer func() {
		if r := recover(); r != nil {
			ce, ok := r.(compileError)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("compile job %q: %s", j.Name, string(ce))
		}
	}()
	return c.withHooks(j.Hooks.list(), nil, func() Plan { return c.sequence(j.Plan, nil) }), nil
}

// withHooks wraps the plan that inner compiles in the hooks, which nest inner to
// outer as listed (the last is outermost). Outer nodes take their ids first.
func (c *compiler) withHooks(hooks []hook, tags []string, inner func() Plan) Plan {
	if len(hooks) == 0 {
		return inner()
	}
	h := hooks[len(hooks)-1]
	id := c.id()
	step := c.withHooks(hooks[:len(hooks)-1], tags, inner)
	return hookPlan(id, h.key, step, c.step(h.step, tags))
}

// sequence compiles steps into a do.
func (c *compiler) sequence(steps []Step, tags []string) Plan {
	id := c.id()
	plans := make([]Plan, len(steps))
	for i := range steps {
		plans[i] = c.step(&steps[i], tags)
	}
	return Plan{ID: id, Do: &plans}
}

// compileError aborts compilation of a config that validation should have refused.
type compileError string

func hookPlan(id, key string, step, next Plan) Plan {
	p := Plan{ID: id}
	switch key {
	case "on_success":
		p.OnSuccess = &OnSuccessPlan{Step: step, Next: next}
	case "on_failure":
		p.OnFailure = &OnFailurePlan{Step: step, Next: next}
	case "on_abort":
		p.OnAbort = &OnAbortPlan{Step: step, Next: next}
	case "on_error":
		p.OnError = &OnErrorPlan{Step: step, Next: next}
	case "ensure":
		p.Ensure = &EnsurePlan{Step: step, Next: next}
	}
	return p
}

// step compiles one step with its modifiers. From outer to inner: hooks (ensure,
// on_error, on_abort, on_failure, on_success), across, attempts, timeout, action.
// Tags given on a step apply to every step inside it that has none of its own.
func (c *compiler) step(s *Step, tags []string) Plan {
	if len(s.Tags) > 0 {
		tags = s.Tags
	}
	return c.withHooks(s.Hooks.list(), tags, func() Plan { return c.across(s, tags) })
}

func (c *compiler) across(s *Step, tags []string) Plan {
	if len(s.Across) == 0 {
		return c.attempts(s, tags)
	}
	id := c.id()
	inner := c.attempts(s, tags)
	template, err := json.Marshal(inner)
	if err != nil {
		panic(compileError(fmt.Sprintf("encode across template: %v", err)))
	}
	vars := make([]AcrossVarPlan, len(s.Across))
	for i, a := range s.Across {
		vars[i] = AcrossVarPlan{Var: a.Var, Values: a.Values, MaxInFlight: a.MaxInFlight}
	}
	return Plan{ID: id, Across: &AcrossPlan{Vars: vars, SubStepTemplate: string(template), FailFast: s.FailFast}}
}

func (c *compiler) attempts(s *Step, tags []string) Plan {
	if s.Attempts <= 1 {
		return c.timeout(s, tags)
	}
	id := c.id()
	tries := make([]Plan, s.Attempts)
	for i := range tries {
		tries[i] = c.timeout(s, tags)
		markAttempt(&tries[i], i+1)
	}
	return Plan{ID: id, Retry: &tries}
}

// markAttempt prepends the attempt number to every node of an attempt's tree.
func markAttempt(p *Plan, n int) {
	p.Attempts = append([]int{n}, p.Attempts...)
	for _, child := range children(p) {
		markAttempt(child, n)
	}
}

// children lists the nodes directly under p.
func children(p *Plan) []*Plan {
	var out []*Plan
	for _, list := range []*[]Plan{p.Do, p.Retry} {
		if list != nil {
			for i := range *list {
				out = append(out, &(*list)[i])
			}
		}
	}
	if p.InParallel != nil {
		for i := range p.InParallel.Steps {
			out = append(out, &p.InParallel.Steps[i])
		}
	}
	switch {
	case p.Try != nil:
		out = append(out, &p.Try.Step)
	case p.Timeout != nil:
		out = append(out, &p.Timeout.Step)
	case p.OnSuccess != nil:
		out = append(out, &p.OnSuccess.Step, &p.OnSuccess.Next)
	case p.OnFailure != nil:
		out = append(out, &p.OnFailure.Step, &p.OnFailure.Next)
	case p.OnAbort != nil:
		out = append(out, &p.OnAbort.Step, &p.OnAbort.Next)
	case p.OnError != nil:
		out = append(out, &p.OnError.Step, &p.OnError.Next)
	case p.Ensure != nil:
		out = append(out, &p.Ensure.Step, &p.Ensure.Next)
	}
	return out
}

func (c *compiler) timeout(s *Step, tags []string) Plan {
	if s.Timeout == "" {
		return c.action(s, tags)
	}
	id := c.id()
	return Plan{ID: id, Timeout: &TimeoutPlan{Duration: s.Timeout, Step: c.action(s, tags)}}
}

func (c *compiler) action(s *Step, tags []string) Plan {
	if s.Kind == "do" {
		return c.sequence(s.Do, tags)
	}
	id := c.id()
	p := Plan{ID: id}
	switch {
	case s.Get != nil:
		p.Get = c.getPlan(id, s.Get.Name, s.Get.ResourceName(), s.Get.Params, tags)
		if s.Get.Version.Pinned != nil {
			p.Get.Version = s.Get.Version.Pinned
		}
	case s.Put != nil:
		return c.put(id, s.Put, tags)
	case s.Task != nil:
		p.Task = c.task(s.Task, tags)
	case s.SetPipeline != nil:
		sp := s.SetPipeline
		p.SetPipeline = &SetPipelinePlan{Name: sp.Name, File: sp.File, Team: sp.Team, Vars: sp.Vars, VarFiles: sp.VarFiles, InstanceVars: sp.InstanceVars}
	case s.LoadVar != nil:
		lv := s.LoadVar
		p.LoadVar = &LoadVarPlan{Name: lv.Name, File: lv.File, Format: lv.Format, Reveal: lv.Reveal}
	case s.InParallel != nil:
		steps := make([]Plan, len(s.InParallel.Steps))
		for i := range s.InParallel.Steps {
			steps[i] = c.step(&s.InParallel.Steps[i], tags)
		}
		p.InParallel = &InParallelPlan{Steps: steps, Limit: s.InParallel.Limit, FailFast: s.InParallel.FailFast}
	case s.Try != nil:
		p.Try = &TryPlan{Step: c.step(s.Try, tags)}
	default:
		panic(compileError(fmt.Sprintf("step on line %d has no action", s.Line)))
	}
	return p
}

func (c *compiler) resource(name string) *Resource {
	r, ok := c.resources[name]
	if !ok {
		panic(compileError(fmt.Sprintf("resource %q does not exist", name)))
	}
	return r
}

// source is the resource's source over its type's defaults.
func (c *compiler) source(r *Resource) map[string]any {
	t, ok := c.types[r.Type]
	if !ok || len(t.Defaults) == 0 {
		return r.Source
	}
	out := maps.Clone(t.Defaults)
	maps.Copy(out, r.Source)
	return out
}

func (c *compiler) getPlan(id, name, resource string, params map[string]any, tags []string) *GetPlan {
	r := c.resource(resource)
	return &GetPlan{
		Name: name, Type: r.Type, Resource: r.Name, Source: c.source(r), Image: c.typeImage(id, r.Type, nil),
		Params: params, Tags: tagsOr(tags, r.Tags),
	}
}

// put compiles a put and, unless no_get, the get of the version it created.
func (c *compiler) put(id string, p *PutStep, tags []string) Plan {
	r := c.resource(p.ResourceName())
	put := &PutPlan{
		Name: p.Name, Type: r.Type, Resource: r.Name, Source: c.source(r), Params: p.Params,
		Tags: tagsOr(tags, r.Tags), ExposeBuildCreatedBy: r.ExposeBuildCreatedBy,
	}
	switch {
	case p.Inputs.Detect:
		put.Inputs = "detect"
	case p.Inputs.Names != nil:
		put.Inputs = p.Inputs.Names
	default:
		put.Inputs = "all"
	}
	if p.NoGet {
		put.Image = c.typeImage(id, r.Type, nil)
		return Plan{ID: id, Put: put}
	}
	putID := c.id()
	put.Image = c.typeImage(putID, r.Type, nil)
	getID := c.id()
	get := c.getPlan(getID, p.Name, r.Name, p.GetParams, tags)
	get.VersionFrom = putID
	return Plan{ID: id, OnSuccess: &OnSuccessPlan{Step: Plan{ID: putID, Put: put}, Next: Plan{ID: getID, Get: get}}}
}

func (c *compiler) task(t *TaskStep, tags []string) *TaskPlan {
	tp := &TaskPlan{
		Name: t.Name, Privileged: t.Privileged, Hermetic: t.Hermetic, Tags: tags, ConfigPath: t.File, Config: t.Config,
		ContainerLimits: t.ContainerLimits, Image: t.Image, Vars: t.Vars, Params: t.Params,
		InputMapping: t.InputMapping, OutputMapping: t.OutputMapping,
	}
	for _, rt := range c.cfg.ResourceTypes {
		tp.ResourceTypes = append(tp.ResourceTypes, ResourceTypePlan{
			Name: rt.Name, Type: rt.Type, Source: rt.Source, Privileged: rt.Privileged, Params: rt.Params, Tags: rt.Tags,
		})
	}
	return tp
}

// typeImage says where the image of a resource type comes from. A custom type
// gets a check and a get of its own image, with ids derived from the step's id
// (<id>/image-check, <id>/image-get) as Concourse does. A custom type may be
// named like its own base type (overriding a core type); seen stops that loop.
func (c *compiler) typeImage(id, typeName string, seen map[string]bool) TypeImage {
	t, ok := c.types[typeName]
	if !ok || seen[typeName] {
		return TypeImage{BaseType: typeName}
	}
	seen = maps.Clone(seen)
	if seen == nil {
		seen = map[string]bool{}
	}
	seen[typeName] = true
	checkID, getID := id+"/image-check", id+"/image-get"
	check := &Plan{ID: checkID, Check: &CheckPlan{
		Name: t.Name, Type: t.Type, Source: t.Source, Image: c.typeImage(checkID, t.Type, seen), ResourceType: t.Name, Tags: t.Tags,
	}}
	get := &Plan{ID: getID, Get: &GetPlan{
		Name: t.Name, Type: t.Type, Source: t.Source, Image: c.typeImage(getID, t.Type, seen), Params: t.Params,
		VersionFrom: checkID, Tags: t.Tags,
	}}
	return TypeImage{CheckPlan: check, GetPlan: get, Privileged: t.Privileged}
}

func tagsOr(step, resource []string) []string {
	if len(step) > 0 {
		return step
	}
	return resource
}

package pipeline

import (
	"fmt"
	"maps"
	"strings"
)

// artifacts are the names a step may read: what earlier steps of the build
// produced. open means an earlier step (a task from a file) may have produced
// names we cannot know, so a missing name is not an error.
type artifacts struct {
	names map[string]bool
	open  bool
}

func (a artifacts) with(b artifacts) artifacts {
	out := artifacts{names: maps.Clone(a.names), open: a.open || b.open}
	if out.names == nil {
		out.names = map[string]bool{}
	}
	maps.Copy(out.names, b.names)
	return out
}

func (a artifacts) has(name string) bool {
	return a.open || a.names[name] || strings.Contains(name, "((")
}

type planValidator struct {
	*validator
	job  *Job
	gets map[string]int // get step name -> line, to find repeats
}

// steps validates a sequence and returns the artifacts available after it.
func (pv *planValidator) steps(steps []Step, scope artifacts, where string) artifacts {
	for i := range steps {
		scope = scope.with(pv.step(&steps[i], scope, fmt.Sprintf("%s: plan[%d]", where, i)))
	}
	return scope
}

// step validates one step that sees scope and returns what it produces.
func (pv *planValidator) step(s *Step, scope artifacts, where string) artifacts {
	if s == nil {
		return artifacts{}
	}
	if s.Kind == "" {
		return artifacts{open: true} // decoding already reported it
	}
	where = where + ": " + s.describe()
	pv.modifiers(s, where)
	var out artifacts
	switch {
	case s.Get != nil:
		out = pv.get(s, where)
	case s.Put != nil:
		out = pv.put(s, scope, where)
	case s.Task != nil:
		out = pv.task(s, scope, where)
	case s.SetPipeline != nil:
		pv.setPipeline(s, where)
	case s.LoadVar != nil:
		pv.loadVar(s, where)
	case s.InParallel != nil:
		if s.InParallel.Limit < 0 {
			pv.errorf(s.Lines[s.Kind], where, "limit must not be negative")
		}
		// Siblings run at once, so any of them may feed another; be lenient.
		siblings := artifacts{}
		for i := range s.InParallel.Steps {
			siblings = siblings.with(produces(&s.InParallel.Steps[i]))
		}
		for i := range s.InParallel.Steps {
			pv.step(&s.InParallel.Steps[i], scope.with(siblings), fmt.Sprintf("%s: steps[%d]", where, i))
		}
		out = siblings
	case s.Do != nil || s.Kind == "do":
		out = pv.steps(s.Do, scope, where)
	case s.Kind == "try":
		if s.Try == nil {
			pv.errorf(s.Lines["try"], where, "try needs a step")
			break
		}
		out = pv.step(s.Try, scope, where)
	}
	after := scope.with(out)
	for _, h := range s.Hooks.list() {
		out = out.with(pv.step(h.step, after, where+": "+h.key))
	}
	return out
}

func (pv *planValidator) modifiers(s *Step, where string) {
	pv.duration(s.Timeout, s.Lines["timeout"], where, "timeout", false)
	if line, ok := s.Lines["attempts"]; ok && s.Attempts < 1 {
		pv.errorf(line, where, "attempts must be at least 1")
	}
	if _, ok := s.Lines["fail_fast"]; ok && s.Across == nil {
		pv.errorf(s.Lines["fail_fast"], where, "fail_fast belongs to across; for in_parallel put it under in_parallel")
	}
	vars := map[string]bool{}
	for _, a := range s.Across {
		if a.Var == "" {
			pv.errorf(a.Line, where+": across", "each across entry needs a var")
			continue
		}
		if vars[a.Var] {
			pv.errorf(a.Line, where+": across", "var %q appears more than once", a.Var)
		}
		vars[a.Var] = true
		pv.identifier(a.Var, a.Line, where)
		switch vals := a.Values.(type) {
		case []any:
		case string:
			if !strings.Contains(vals, "((") {
				pv.errorf(a.Line, where+": across", "values of var %q must be a list or a ((var)) holding one", a.Var)
			}
		default:
			pv.errorf(a.Line, where+": across", "values of var %q must be a list or a ((var)) holding one", a.Var)
		}
		switch m := a.MaxInFlight.(type) {
		case nil:
		case string:
			if m != "all" && !strings.Contains(m, "((") {
				pv.errorf(a.Line, where+": across", "max_in_flight must be all or a positive number")
			}
		case int64:
			if m < 1 {
				pv.errorf(a.Line, where+": across", "max_in_flight must be all or a positive number")
			}
		default:
			pv.errorf(a.Line, where+": across", "max_in_flight must be all or a positive number")
		}
	}
}

func (pv *planValidator) get(s *Step, where string) artifacts {
	g := s.Get
	line := s.Lines["get"]
	pv.identifier(g.Name, line, where)
	if first, seen := pv.gets[g.Name]; seen {
		pv.errorf(line, where, "a get step with this name is already on line %d: give one of them another name (get: other-name, resource: %s)", first, g.ResourceName())
	} else {
		pv.gets[g.Name] = line
	}
	res := g.ResourceName()
	if _, ok := pv.resources[res]; !ok {
		pv.errorf(lineOr(s.Lines["resource"], line), where, "resource %q does not exist: declare it under resources", res)
	} else {
		pv.used[res] = true
	}
	for _, name := range g.Passed {
		if _, ok := pv.jobs[name]; !ok {
			pv.errorf(s.Lines["passed"], where, "passed job %q does not exist", name)
			continue
		}
		if !pv.touches[name][res] {
			pv.errorf(s.Lines["passed"], where, "passed job %q does not get or put resource %q, so no version of it can pass that job", name, res)
		}
	}
	return artifacts{names: map[string]bool{g.Name: true}}
}

func (pv *planValidator) put(s *Step, scope artifacts, where string) artifacts {
	p := s.Put
	line := s.Lines["put"]
	pv.identifier(p.Name, line, where)
	res := p.ResourceName()
	if _, ok := pv.resources[res]; !ok {
		pv.errorf(lineOr(s.Lines["resource"], line), where, "resource %q does not exist: declare it under resources", res)
	} else {
		pv.used[res] = true
	}
	for _, in := range p.Inputs.Names {
		if err := CheckName(in); err != nil {
			pv.errorf(s.Lines["inputs"], where, "%v", err)
		} else if !scope.has(in) {
			pv.errorf(s.Lines["inputs"], where, "input %q is not produced by any earlier step", in)
		}
	}
	if p.NoGet {
		return artifacts{}
	}
	return artifacts{names: map[string]bool{p.Name: true}}
}

func (pv *planValidator) task(s *Step, scope artifacts, where string) artifacts {
	t := s.Task
	line := s.Lines["task"]
	pv.identifier(t.Name, line, where)
	pv.mappings(s, where)
	if t.Image != "" && !scope.has(t.Image) {
		pv.errorf(s.Lines["image"], where, "image %q is not produced by any earlier step: get it first", t.Image)
	}
	switch {
	case t.File == "" && t.Config == nil:
		pv.errorf(line, where, "task needs a config: give file (a task config in an artifact) or config (inline)")
		return artifacts{open: true}
	case t.File != "" && t.Config != nil:
		pv.warnf("precedence", line, where, "both file and config are given: the config from file is used")
	}
	if t.File != "" {
		first, rest, _ := strings.Cut(t.File, "/")
		if err := CheckRelPath(rest); err != nil || rest == "" {
			pv.errorf(s.Lines["file"], where, "file %q: give ARTIFACT/PATH, a file inside an artifact", t.File)
		} else if !scope.has(first) {
			pv.errorf(s.Lines["file"], where, "file %q is in artifact %q, which no earlier step produces", t.File, first)
		}
		return artifacts{open: true} // outputs come from the file
	}
	c := t.Config
	cwhere := where + ": config"
	pv.taskConfig(c, cwhere)
	for _, in := range c.Inputs {
		if in.Optional || in.Name == "" {
			continue
		}
		name := in.Name
		if mapped, ok := t.InputMapping[name]; ok {
			name = mapped
		}
		if !scope.has(name) {
			hint := fmt.Sprintf("add a get step named %q before it", name)
			if name == in.Name {
				hint += ", or map it with input_mapping"
			}
			pv.errorf(lineOr(in.Line, c.Line), cwhere, "input %q is not produced by any earlier step: %s", name, hint)
		}
	}
	out := artifacts{names: map[string]bool{}}
	for _, o := range c.Outputs {
		name := o.Name
		if mapped, ok := t.OutputMapping[name]; ok {
			name = mapped
		}
		out.names[name] = true
	}
	return out
}

// taskConfig checks a task config as Concourse's TaskConfig.Validate does.
func (v *validator) taskConfig(c *TaskConfig, where string) {
	if c.Platform == "" {
		v.errorf(c.Line, where, "missing 'platform': set it to linux, darwin or windows")
	}
	if c.Run == nil || c.Run.Path == "" {
		v.errorf(lineOr(c.Lines["run"], c.Line), where, "missing path to executable to run: set run.path")
	}
	if c.ImageResource != nil && c.ImageResource.Type == "" {
		v.errorf(c.Lines["image_resource"], where, "image_resource has no type")
	}
	if c.Run != nil {
		if err := CheckRelPath(c.Run.Dir); err != nil {
			v.errorf(lineOr(c.Lines["run"], c.Line), where, "run.dir: %v", err)
		}
	}
	seen := map[string]bool{}
	for i, in := range c.Inputs {
		if in.Name == "" {
			v.errorf(lineOr(in.Line, c.Line), where, "inputs[%d] has no name", i)
			continue
		}
		v.pathName(in.Name, in.Path, lineOr(in.Line, c.Line), fmt.Sprintf("%s: inputs[%d]", where, i))
		if seen[in.Name] {
			v.errorf(in.Line, where, "input %q appears more than once", in.Name)
		}
		seen[in.Name] = true
	}
	outs := map[string]bool{}
	for i, o := range c.Outputs {
		if o.Name == "" {
			v.errorf(lineOr(o.Line, c.Line), where, "outputs[%d] has no name", i)
			continue
		}
		v.pathName(o.Name, o.Path, lineOr(o.Line, c.Line), fmt.Sprintf("%s: outputs[%d]", where, i))
		if outs[o.Name] {
			v.errorf(o.Line, where, "output %q appears more than once", o.Name)
		}
		outs[o.Name] = true
	}
	for i, cache := range c.Caches {
		if cache.Path == "" {
			v.errorf(c.Lines["caches"], where, "caches[%d] has no path", i)
		} else if err := CheckRelPath(cache.Path); err != nil {
			v.errorf(c.Lines["caches"], where, "caches[%d]: %v", i, err)
		}
	}
}

// pathName checks an input's or output's name and path, which become paths
// on the spoke.
func (v *validator) pathName(name, path string, line int, where string) {
	if err := CheckName(name); err != nil {
		v.errorf(line, where, "%v", err)
	}
	if err := CheckRelPath(path); err != nil {
		v.errorf(line, where, "%v", err)
	}
}

// mappings checks a task step's input_mapping and output_mapping, whose
// both sides are artifact names.
func (pv *planValidator) mappings(s *Step, where string) {
	for field, m := range map[string]map[string]string{"input_mapping": s.Task.InputMapping, "output_mapping": s.Task.OutputMapping} {
		for k, v := range m {
			for _, name := range []string{k, v} {
				if err := CheckName(name); err != nil {
					pv.errorf(s.Lines[field], where+": "+field, "%v", err)
				}
			}
		}
	}
}

func (pv *planValidator) setPipeline(s *Step, where string) {
	sp := s.SetPipeline
	line := s.Lines["set_pipeline"]
	if sp.Name == "" {
		pv.errorf(line, where, "set_pipeline needs a pipeline name (or self)")
	} else if sp.Name == "self" {
		pv.warnf("experimental", line, where, "self is experimental and may change")
	} else {
		pv.identifier(sp.Name, line, where)
	}
	if sp.File == "" {
		pv.errorf(line, where, "set_pipeline needs a file: the pipeline config in an artifact")
	}
}

func (pv *planValidator) loadVar(s *Step, where string) {
	lv := s.LoadVar
	line := s.Lines["load_var"]
	if lv.Name == "" {
		pv.errorf(line, where, "load_var needs a var name")
	}
	pv.identifier(lv.Name, line, where)
	if lv.File == "" {
		pv.errorf(line, where, "load_var needs a file")
	}
	switch lv.Format {
	case "", "json", "yaml", "yml", "trim", "raw":
	default:
		pv.errorf(s.Lines["format"], where, "format %q is not one of json, yaml, yml, trim, raw", lv.Format)
	}
}

// produces lists the artifacts a step may leave behind, without validating it.
func produces(s *Step) artifacts {
	out := artifacts{names: map[string]bool{}}
	switch {
	case s.Get != nil:
		out.names[s.Get.Name] = true
	case s.Put != nil && !s.Put.NoGet:
		out.names[s.Put.Name] = true
	case s.Task != nil:
		if s.Task.Config == nil || s.Task.File != "" {
			out.open = true
			break
		}
		for _, o := range s.Task.Config.Outputs {
			name := o.Name
			if mapped, ok := s.Task.OutputMapping[name]; ok {
				name = mapped
			}
			out.names[name] = true
		}
	case s.InParallel != nil:
		for i := range s.InParallel.Steps {
			out = out.with(produces(&s.InParallel.Steps[i]))
		}
	case s.Try != nil:
		out = out.with(produces(s.Try))
	}
	for i := range s.Do {
		out = out.with(produces(&s.Do[i]))
	}
	for _, h := range s.Hooks.list() {
		out = out.with(produces(h.step))
	}
	return out
}

func lineOr(line, fallback int) int {
	if line > 0 {
		return line
	}
	return fallback
}

package pipeline

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Step is one step of a plan: exactly one action (get, put, task, set_pipeline,
// load_var, in_parallel, do, try) plus the modifiers any step may carry.
type Step struct {
	Line  int
	Lines map[string]int
	Kind  string // the action's key

	Get         *GetStep
	Put         *PutStep
	Task        *TaskStep
	SetPipeline *SetPipelineStep
	LoadVar     *LoadVarStep
	InParallel  *InParallelStep
	Do          []Step
	Try         *Step

	// Modifiers.
	Timeout  string      `yaml:"timeout"`
	Attempts int         `yaml:"attempts"`
	Tags     []string    `yaml:"tags"`
	Across   []AcrossVar `yaml:"across"`
	FailFast bool        `yaml:"fail_fast"` // of across
	Hooks    `yaml:",inline"`
}

type GetStep struct {
	Name     string         `yaml:"get"`
	Resource string         `yaml:"resource"`
	Version  VersionConfig  `yaml:"version"`
	Passed   []string       `yaml:"passed"`
	Params   map[string]any `yaml:"params"`
	Trigger  bool           `yaml:"trigger"`
}

// ResourceName is the resource the get fetches: `resource`, or the step's name.
func (g *GetStep) ResourceName() string {
	if g.Resource != "" {
		return g.Resource
	}
	return g.Name
}

type PutStep struct {
	Name      string         `yaml:"put"`
	Resource  string         `yaml:"resource"`
	Params    map[string]any `yaml:"params"`
	GetParams map[string]any `yaml:"get_params"`
	Inputs    InputsConfig   `yaml:"inputs"`
	NoGet     bool           `yaml:"no_get"`
}

// ResourceName is the resource the put writes: `resource`, or the step's name.
func (p *PutStep) ResourceName() string {
	if p.Resource != "" {
		return p.Resource
	}
	return p.Name
}

type TaskStep struct {
	Name            string            `yaml:"task"`
	File            string            `yaml:"file"`
	Config          *TaskConfig       `yaml:"config"`
	Privileged      bool              `yaml:"privileged"`
	Hermetic        bool              `yaml:"hermetic"`
	Image           string            `yaml:"image"`
	Params          Env               `yaml:"params"`
	Vars            map[string]any    `yaml:"vars"`
	InputMapping    map[string]string `yaml:"input_mapping"`
	OutputMapping   map[string]string `yaml:"output_mapping"`
	ContainerLimits *ContainerLimits  `yaml:"container_limits"`
}

type SetPipelineStep struct {
	Name         string         `yaml:"set_pipeline"`
	File         string         `yaml:"file"`
	Team         string         `yaml:"team"`
	Vars         map[string]any `yaml:"vars"`
	VarFiles     []string       `yaml:"var_files"`
	InstanceVars map[string]any `yaml:"instance_vars"`
}

type LoadVarStep struct {
	Name   string `yaml:"load_var"`
	File   string `yaml:"file"`
	Format string `yaml:"format"`
	Reveal bool   `yaml:"reveal"`
}

type InParallelStep struct {
	Steps    []Step `yaml:"steps"`
	Limit    int    `yaml:"limit"`
	FailFast bool   `yaml:"fail_fast"`
}

// decodeNode accepts both forms: a list of steps, or {steps, limit, fail_fast}.
func (p *InParallelStep) decodeNode(d *decoder, n *yaml.Node, where string) {
	if n.Kind == yaml.SequenceNode {
		d.decode(n, reflect.ValueOf(&p.Steps).Elem(), join(where, "steps"))
		return
	}
	type plain InParallelStep
	d.decodeStruct(n, reflect.ValueOf((*plain)(p)).Elem(), where)
}

type AcrossVar struct {
	Line        int
	Var         string `yaml:"var"`
	Values      any    `yaml:"values"`        // a list, or a ((var)) that gives one
	MaxInFlight any    `yaml:"max_in_flight"` // "all" or a positive number
}

// actions maps each action key to the Step field that holds it.
var actions = map[string]string{
	"get": "Get", "put": "Put", "task": "Task", "set_pipeline": "SetPipeline", "load_var": "LoadVar",
	"in_parallel": "InParallel", "aggregate": "InParallel", "do": "Do", "try": "Try",
}

// wrapperActions take their whole value as the action and accept no other keys
// but the modifiers.
var wrapperActions = map[string]bool{"in_parallel": true, "aggregate": true, "do": true, "try": true}

var modifierKeys = map[string]bool{
	"timeout": true, "attempts": true, "tags": true, "across": true, "fail_fast": true,
	"on_success": true, "on_failure": true, "on_abort": true, "on_error": true, "ensure": true,
}

func actionKeys() string {
	keys := make([]string, 0, len(actions))
	for k := range actions {
		if k != "aggregate" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

func (s *Step) decodeNode(d *decoder, n *yaml.Node, where string) {
	if !d.expect(n, yaml.MappingNode, where, "a step (a mapping)") {
		return
	}
	ps := d.pairs(n, where)
	s.Line = n.Line
	s.Lines = make(map[string]int, len(ps))
	var found []pair
	for _, p := range ps {
		s.Lines[p.key] = p.line
		if _, ok := actions[p.key]; ok {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 0:
		d.errorf(n.Line, where, "step has no action: give one of %s", actionKeys())
		return
	case 1:
	default:
		d.errorf(found[1].line, where, "step has more than one action (%s and %s): split it into two steps", found[0].key, found[1].key)
		return
	}
	action := found[0]
	s.Kind = action.key
	if action.key == "aggregate" {
		s.Kind = "in_parallel"
		d.warnf("deprecation", action.line, where, "aggregate is deprecated: use in_parallel")
	}
	where = join(where, s.Kind)

	var mods, rest []pair
	for _, p := range ps {
		switch {
		case modifierKeys[p.key]:
			mods = append(mods, p)
		case wrapperActions[action.key] && p.key != action.key:
			d.errorf(p.line, where, "unknown field %q for a %s step", p.key, s.Kind)
		default:
			rest = append(rest, p)
		}
	}
	type modifiers struct {
		Timeout  string      `yaml:"timeout"`
		Attempts int         `yaml:"attempts"`
		Tags     []string    `yaml:"tags"`
		Across   []AcrossVar `yaml:"across"`
		FailFast bool        `yaml:"fail_fast"`
		Hooks    `yaml:",inline"`
	}
	var m modifiers
	d.decodePairs(n.Line, mods, reflect.ValueOf(&m).Elem(), where)
	s.Timeout, s.Attempts, s.Tags, s.Across, s.FailFast, s.Hooks = m.Timeout, m.Attempts, m.Tags, m.Across, m.FailFast, m.Hooks

	field := reflect.ValueOf(s).Elem().FieldByName(actions[action.key])
	if wrapperActions[action.key] {
		d.decode(action.val, field, where)
		if s.Kind == "in_parallel" && s.InParallel == nil {
			s.InParallel = &InParallelStep{} // `in_parallel:` with nothing is no steps, as `do:` is
		}
		return
	}
	// get, put, task, set_pipeline, load_var: the action key names the step and the
	// other keys belong to it.
	body := reflect.New(field.Type().Elem())
	d.decodePairs(n.Line, rest, body.Elem(), where)
	field.Set(body)
}

// Name is how errors and plans refer to the step.
func (s *Step) Name() string {
	switch {
	case s.Get != nil:
		return s.Get.Name
	case s.Put != nil:
		return s.Put.Name
	case s.Task != nil:
		return s.Task.Name
	case s.SetPipeline != nil:
		return s.SetPipeline.Name
	case s.LoadVar != nil:
		return s.LoadVar.Name
	}
	return ""
}

// describe is the step as errors name it: `get step "repo"`, `in_parallel step`.
func (s *Step) describe() string {
	if name := s.Name(); name != "" {
		return fmt.Sprintf("%s step %q", s.Kind, name)
	}
	return s.Kind + " step"
}

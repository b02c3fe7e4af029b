package pipeline

import "cmp"

// Plan is one node of a compiled build plan, in the JSON shape of Concourse's
// atc.Plan: an id, and exactly one step key. The build engine executes it; events
// refer to nodes by ID.
type Plan struct {
	ID       string `json:"id"`
	Attempts []int  `json:"attempts,omitempty"`

	Get         *GetPlan         `json:"get,omitempty"`
	Put         *PutPlan         `json:"put,omitempty"`
	Task        *TaskPlan        `json:"task,omitempty"`
	Check       *CheckPlan       `json:"check,omitempty"`
	SetPipeline *SetPipelinePlan `json:"set_pipeline,omitempty"`
	LoadVar     *LoadVarPlan     `json:"load_var,omitempty"`
	Do          *[]Plan          `json:"do,omitempty"`
	InParallel  *InParallelPlan  `json:"in_parallel,omitempty"`
	Across      *AcrossPlan      `json:"across,omitempty"`
	Try         *TryPlan         `json:"try,omitempty"`
	Timeout     *TimeoutPlan     `json:"timeout,omitempty"`
	Retry       *[]Plan          `json:"retry,omitempty"`
	OnSuccess   *OnSuccessPlan   `json:"on_success,omitempty"`
	OnFailure   *OnFailurePlan   `json:"on_failure,omitempty"`
	OnAbort     *OnAbortPlan     `json:"on_abort,omitempty"`
	OnError     *OnErrorPlan     `json:"on_error,omitempty"`
	Ensure      *EnsurePlan      `json:"ensure,omitempty"`

	// fly execute's one-off builds: an uploaded artifact as an input, and a
	// build artifact kept for fly to download.
	ArtifactInput  *ArtifactInputPlan  `json:"artifact_input,omitempty"`
	ArtifactOutput *ArtifactOutputPlan `json:"artifact_output,omitempty"`
}

type ArtifactInputPlan struct {
	ArtifactID int64  `json:"artifact_id"`
	Name       string `json:"name"`
}

type ArtifactOutputPlan struct {
	Name string `json:"name"`
}

// TypeImage says how to get the image of a resource's type: a core type names
// itself; a custom type carries the plans that check and get its image.
type TypeImage struct {
	BaseType   string `json:"base_type,omitempty"`
	Privileged bool   `json:"privileged,omitempty"`
	CheckPlan  *Plan  `json:"check_plan,omitempty"`
	GetPlan    *Plan  `json:"get_plan,omitempty"`
}

type GetPlan struct {
	Name        string            `json:"name,omitempty"`
	Type        string            `json:"type"`
	Resource    string            `json:"resource,omitempty"`
	Source      map[string]any    `json:"source"`
	Image       TypeImage         `json:"image"`
	Params      map[string]any    `json:"params,omitempty"`
	Version     map[string]string `json:"version,omitempty"`      // chosen when the build is created
	VersionFrom string            `json:"version_from,omitempty"` // or taken from a put or check plan
	Tags        []string          `json:"tags,omitempty"`
	Timeout     string            `json:"timeout,omitempty"`
}

type PutPlan struct {
	Name                 string         `json:"name,omitempty"`
	Type                 string         `json:"type"`
	Resource             string         `json:"resource"`
	Source               map[string]any `json:"source"`
	Image                TypeImage      `json:"image"`
	Params               map[string]any `json:"params,omitempty"`
	Inputs               any            `json:"inputs,omitempty"` // "all", "detect" or []string
	Tags                 []string       `json:"tags,omitempty"`
	Timeout              string         `json:"timeout,omitempty"`
	ExposeBuildCreatedBy bool           `json:"expose_build_created_by,omitempty"`
}

// CheckPlan checks a resource (a check build) or a resource type's image (the
// image-check of a custom type).
type CheckPlan struct {
	Name         string            `json:"name"`
	Type         string            `json:"type"`
	Source       map[string]any    `json:"source"`
	Image        TypeImage         `json:"image"`
	FromVersion  map[string]string `json:"from_version,omitempty"`
	Resource     string            `json:"resource,omitempty"`
	ResourceType string            `json:"resource_type,omitempty"`
	Tags         []string          `json:"tags,omitempty"`
}

type TaskPlan struct {
	Name            string             `json:"name"`
	Privileged      bool               `json:"privileged"`
	Hermetic        bool               `json:"hermetic"`
	Tags            []string           `json:"tags,omitempty"`
	ConfigPath      string             `json:"config_path,omitempty"`
	Config          *TaskConfig        `json:"config,omitempty"`
	ContainerLimits *ContainerLimits   `json:"container_limits,omitempty"`
	Image           string             `json:"image,omitempty"`
	Vars            map[string]any     `json:"vars,omitempty"`
	Params          Env                `json:"params,omitempty"`
	InputMapping    map[string]string  `json:"input_mapping,omitempty"`
	OutputMapping   map[string]string  `json:"output_mapping,omitempty"`
	Timeout         string             `json:"timeout,omitempty"`
	ResourceTypes   []ResourceTypePlan `json:"resource_types,omitempty"`
}

// ResourceTypePlan is a resource type as tasks see it (for image_resource).
type ResourceTypePlan struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Source     map[string]any `json:"source"`
	Privileged bool           `json:"privileged,omitempty"`
	Params     map[string]any `json:"params,omitempty"`
	Tags       []string       `json:"tags,omitempty"`
}

type SetPipelinePlan struct {
	Name         string         `json:"name"`
	File         string         `json:"file"`
	Team         string         `json:"team,omitempty"`
	Vars         map[string]any `json:"vars,omitempty"`
	VarFiles     []string       `json:"var_files,omitempty"`
	InstanceVars map[string]any `json:"instance_vars,omitempty"`
}

type LoadVarPlan struct {
	Name   string `json:"name"`
	File   string `json:"file"`
	Format string `json:"format,omitempty"`
	Reveal bool   `json:"reveal,omitempty"`
}

type InParallelPlan struct {
	Steps    []Plan `json:"steps"`
	Limit    int    `json:"limit,omitempty"`
	FailFast bool   `json:"fail_fast,omitempty"`
}

type AcrossPlan struct {
	Vars []AcrossVarPlan `json:"vars"`
	// SubStepTemplate is the JSON of the plan run for each combination of values;
	// the engine gives each run fresh ids.
	SubStepTemplate string `json:"substep_template"`
	FailFast        bool   `json:"fail_fast,omitempty"`
}

type AcrossVarPlan struct {
	Var         string `json:"name"`
	Values      any    `json:"values"`
	MaxInFlight any    `json:"max_in_flight,omitempty"`
}

type TryPlan struct {
	Step Plan `json:"step"`
}

type TimeoutPlan struct {
	Duration string `json:"duration"`
	Step     Plan   `json:"step"`
}

type OnSuccessPlan struct {
	Step Plan `json:"step"`
	Next Plan `json:"on_success"`
}

type OnFailurePlan struct {
	Step Plan `json:"step"`
	Next Plan `json:"on_failure"`
}

type OnAbortPlan struct {
	Step Plan `json:"step"`
	Next Plan `json:"on_abort"`
}

type OnErrorPlan struct {
	Step Plan `json:"step"`
	Next Plan `json:"on_error"`
}

type EnsurePlan struct {
	Step Plan `json:"step"`
	Next Plan `json:"ensure"`
}

// PlanStep is a leaf of a plan, as a build page lists it.
type PlanStep struct {
	ID, Kind, Name string
}

// Steps lists the plan's leaf steps in the order the plan runs them (hooks
// after their step). An across step's runs get their ids as it runs: it is
// listed as itself.
func (p *Plan) Steps() []PlanStep {
	var out []PlanStep
	var walk func(p *Plan)
	walk = func(p *Plan) {
		switch {
		case p.Get != nil:
			out = append(out, PlanStep{p.ID, "get", p.Get.Name})
		case p.Put != nil:
			out = append(out, PlanStep{p.ID, "put", cmp.Or(p.Put.Name, p.Put.Resource)})
		case p.Task != nil:
			out = append(out, PlanStep{p.ID, "task", p.Task.Name})
		case p.Check != nil:
			out = append(out, PlanStep{p.ID, "check", p.Check.Name})
		case p.SetPipeline != nil:
			out = append(out, PlanStep{p.ID, "set_pipeline", p.SetPipeline.Name})
		case p.LoadVar != nil:
			out = append(out, PlanStep{p.ID, "load_var", p.LoadVar.Name})
		case p.Across != nil:
			out = append(out, PlanStep{p.ID, "across", ""})
		case p.ArtifactInput != nil:
			out = append(out, PlanStep{p.ID, "upload", p.ArtifactInput.Name})
		case p.ArtifactOutput != nil:
			out = append(out, PlanStep{p.ID, "download", p.ArtifactOutput.Name})
		}
		for _, c := range children(p) {
			walk(c)
		}
	}
	walk(p)
	return out
}

package pipeline

// Config is a pipeline as written: Concourse's schema, key for key. Unknown keys
// below the top level are errors; unknown top-level keys are ignored, as Concourse
// ignores them (authors keep YAML anchors there).
type Config struct {
	Groups        []Group        `yaml:"groups"`
	VarSources    []VarSource    `yaml:"var_sources"`
	Resources     []Resource     `yaml:"resources"`
	ResourceTypes []ResourceType `yaml:"resource_types"`
	Prototypes    []any          `yaml:"prototypes"`
	Jobs          []Job          `yaml:"jobs"`
	Display       *Display       `yaml:"display"`
	UserData      any            `yaml:"user_data"`
}

// topLevelKeys are the keys Config decodes; others are skipped.
var topLevelKeys = map[string]bool{
	"groups": true, "var_sources": true, "resources": true, "resource_types": true,
	"prototypes": true, "jobs": true, "display": true, "user_data": true,
}

type Group struct {
	Line      int
	Name      string   `yaml:"name"`
	Jobs      []string `yaml:"jobs"`
	Resources []string `yaml:"resources"`
}

type VarSource struct {
	Line   int
	Name   string         `yaml:"name"`
	Type   string         `yaml:"type"`
	Config map[string]any `yaml:"config"`
}

type Resource struct {
	Line                 int
	Lines                map[string]int
	Name                 string            `yaml:"name"`
	OldName              string            `yaml:"old_name"`
	Type                 string            `yaml:"type"`
	Source               map[string]any    `yaml:"source"`
	Icon                 string            `yaml:"icon"`
	Version              map[string]string `yaml:"version"` // pinned in config
	CheckEvery           string            `yaml:"check_every"`
	CheckTimeout         string            `yaml:"check_timeout"`
	Tags                 []string          `yaml:"tags"`
	Public               bool              `yaml:"public"`
	WebhookToken         string            `yaml:"webhook_token"`
	ExposeBuildCreatedBy bool              `yaml:"expose_build_created_by"`
}

type ResourceType struct {
	Line                 int
	Lines                map[string]int
	Name                 string         `yaml:"name"`
	Type                 string         `yaml:"type"`
	Source               map[string]any `yaml:"source"`
	Defaults             map[string]any `yaml:"defaults"`
	Privileged           bool           `yaml:"privileged"`
	Params               map[string]any `yaml:"params"`
	CheckEvery           string         `yaml:"check_every"`
	Tags                 []string       `yaml:"tags"`
	UniqueVersionHistory bool           `yaml:"unique_version_history"`
}

type Job struct {
	Line                 int
	Lines                map[string]int
	Name                 string             `yaml:"name"`
	OldName              string             `yaml:"old_name"`
	Public               bool               `yaml:"public"`
	DisableManualTrigger bool               `yaml:"disable_manual_trigger"`
	DisableReruns        bool               `yaml:"disable_reruns"`
	Serial               bool               `yaml:"serial"`
	SerialGroups         []string           `yaml:"serial_groups"`
	MaxInFlight          int                `yaml:"max_in_flight"`
	Interruptible        bool               `yaml:"interruptible"`
	BuildLogsToRetain    int                `yaml:"build_logs_to_retain"` // deprecated
	BuildLogRetention    *BuildLogRetention `yaml:"build_log_retention"`
	Plan                 []Step             `yaml:"plan"`
	Hooks                `yaml:",inline"`
}

// Hooks run after a step or job: on_success, on_failure, on_abort, on_error and
// ensure (always).
type Hooks struct {
	OnSuccess *Step `yaml:"on_success"`
	OnFailure *Step `yaml:"on_failure"`
	OnAbort   *Step `yaml:"on_abort"`
	OnError   *Step `yaml:"on_error"`
	Ensure    *Step `yaml:"ensure"`
}

type BuildLogRetention struct {
	Line                   int
	Builds                 int `yaml:"builds"`
	Days                   int `yaml:"days"`
	MinimumSucceededBuilds int `yaml:"minimum_succeeded_builds"`
}

type Display struct {
	BackgroundImage  string `yaml:"background_image"`
	BackgroundFilter string `yaml:"background_filter"`
}

// MaxInFlightOf is the number of builds of the job that may run at once
// (0: no limit), folding in serial and serial_groups as Concourse does.
// Retention is the job's build_log_retention, or its deprecated
// build_logs_to_retain as builds.
func (j *Job) Retention() BuildLogRetention {
	if j.BuildLogRetention != nil {
		return *j.BuildLogRetention
	}
	return BuildLogRetention{Builds: j.BuildLogsToRetain}
}

func (j *Job) MaxInFlightOf() int {
	if j.Serial || len(j.SerialGroups) > 0 {
		return 1
	}
	return j.MaxInFlight
}

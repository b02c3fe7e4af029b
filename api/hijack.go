package api

// Container is a step's container as fly lists it for intercept (hijack).
// On a fleet, a container is a running step: its pod on a kube spoke.
type Container struct {
	ID               string `json:"id"`
	WorkerName       string `json:"worker_name"`
	State            string `json:"state,omitempty"` // created: the step runs
	Type             string `json:"type,omitempty"`  // check, get, put, task
	StepName         string `json:"step_name,omitempty"`
	Attempt          string `json:"attempt,omitempty"`
	PipelineID       int64  `json:"pipeline_id,omitempty"`
	JobID            int64  `json:"job_id,omitempty"`
	BuildID          int64  `json:"build_id,omitempty"`
	ResourceID       int64  `json:"resource_id,omitempty"`
	PipelineName     string `json:"pipeline_name,omitempty"`
	JobName          string `json:"job_name,omitempty"`
	BuildName        string `json:"build_name,omitempty"`
	ResourceName     string `json:"resource_name,omitempty"`
	User             string `json:"user,omitempty"`
	WorkingDirectory string `json:"working_directory,omitempty"`
}

// HijackProcessSpec is fly's first message on a hijack websocket: the
// process to run in the container.
type HijackProcessSpec struct {
	Path       string         `json:"path"`
	Args       []string       `json:"args"`
	Env        []string       `json:"env"`
	Dir        string         `json:"dir"`
	Privileged bool           `json:"privileged"`
	User       string         `json:"user"`
	TTY        *HijackTTYSpec `json:"tty"`
}

type HijackTTYSpec struct {
	WindowSize HijackWindowSize `json:"window_size"`
}

type HijackWindowSize struct {
	Columns int `json:"columns"`
	Rows    int `json:"rows"`
}

// HijackInput is what fly sends after the spec: stdin, its end, or a
// terminal resize.
type HijackInput struct {
	Closed  bool           `json:"closed,omitempty"`
	Stdin   []byte         `json:"stdin,omitempty"`
	TTYSpec *HijackTTYSpec `json:"tty,omitempty"`
}

// HijackOutput is what the server sends: output, then the exit status (or
// an error) last.
type HijackOutput struct {
	Stdout             []byte `json:"stdout,omitempty"`
	Stderr             []byte `json:"stderr,omitempty"`
	Error              string `json:"error,omitempty"`
	ExitStatus         *int   `json:"exit_status,omitempty"`
	ExecutableNotFound bool   `json:"executable_not_found,omitempty"`
}

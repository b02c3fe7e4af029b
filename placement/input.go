package placement

// Input is what a placement decides from, and what a placement policy reads
// as its input: the step to place, its build, its input artifacts and every
// spoke that passed the built-in filters.
type Input struct {
	// Step is the step to place.
	Step Step `json:"step"`
	// Build is the build the step belongs to.
	Build Build `json:"build"`
	// Artifacts are the step's input artifacts, with the spokes that hold them.
	Artifacts []Artifact `json:"artifacts"`
	// Spokes are the candidates: the spokes the step may run on.
	Spokes []Spoke `json:"spokes"`
}

// Step is the step to place.
type Step struct {
	// ID is the step's id in the build's plan.
	ID string `json:"id"`
	// Kind is what the step does: task, get, put, check or load_var.
	Kind string `json:"kind"`
	// Name is the step's name in the pipeline (a task's, a get's or a put's).
	Name string `json:"name"`
	// Image is a task's image (repository and tag or digest), when it runs in one.
	Image string `json:"image"`
	// Tags are the step's Concourse tags.
	Tags []string `json:"tags"`
	// Privileged is true for a privileged task.
	Privileged bool `json:"privileged"`
	// Resources are what the step asks for: its container_limits, and one step.
	Resources Resources `json:"resources"`
}

// Build is the build of the step.
type Build struct {
	// ID is the build's id.
	ID int64 `json:"id"`
	// Name is the build's name: its number within its job.
	Name string `json:"name"`
	// Job is the build's job ("" for a one-off build).
	Job string `json:"job"`
	// Pipeline is the build's pipeline ("" for a one-off build of no pipeline).
	Pipeline string `json:"pipeline"`
	// Team is the build's team.
	Team string `json:"team"`
	// Trusted is false when the build's pipeline or job is marked untrusted.
	Trusted bool `json:"trusted"`
}

// Artifact is an input of the step, with the spokes that hold it.
type Artifact struct {
	// Name is the artifact's name in the build (a get's, or a task output's).
	Name string `json:"name"`
	// Size is its size in bytes, compressed.
	Size int64 `json:"size"`
	// Spokes are the spokes whose caches hold it.
	Spokes []string `json:"spokes"`
}

// Resources are CPU cores, memory bytes and steps.
type Resources struct {
	// CPU is in cores.
	CPU float64 `json:"cpu,omitempty"`
	// Memory is in bytes.
	Memory int64 `json:"memory,omitempty"`
	// Steps is a number of steps.
	Steps int `json:"steps,omitempty"`
}

// Spoke is a candidate spoke.
type Spoke struct {
	// Name is the spoke's name, unique in the fleet.
	Name string `json:"name"`
	// Team is the spoke's team; "" for a spoke of the shared pool.
	Team string `json:"team"`
	// Pool is "shared" for a spoke of the shared pool, else "".
	Pool string `json:"pool"`
	// Labels are the spoke's labels (switchyard spoke --label KEY=VALUE).
	Labels map[string]string `json:"labels"`
	// Tags are the spoke's Concourse tags (switchyard spoke --tag).
	Tags []string `json:"tags"`
	// Health is healthy, unknown (its lease lapsed), landing, landed or retiring.
	Health string `json:"health"`
	// Capacity is what the spoke offers: CPUs, memory and at most how many steps.
	Capacity Resources `json:"capacity"`
	// Load is what the spoke's open steps hold of its capacity.
	Load Resources `json:"load"`
	// CachedVolumes are the names of the step's input artifacts that the spoke's cache holds.
	CachedVolumes []string `json:"cached_volumes"`
}

package placement

// Input is what a placement decides from; policies see it as their input.
type Input struct {
	Step      Step       `json:"step"`
	Build     Build      `json:"build"`
	Artifacts []Artifact `json:"artifacts"`
	Spokes    []Spoke    `json:"spokes"`
}

type Step struct {
	ID         string    `json:"id"` // the plan id
	Kind       string    `json:"kind"`
	Name       string    `json:"name"`
	Image      string    `json:"image"`
	Tags       []string  `json:"tags"`
	Privileged bool      `json:"privileged"`
	Resources  Resources `json:"resources"`
}

type Build struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Job      string `json:"job"`
	Pipeline string `json:"pipeline"`
	Team     string `json:"team"`
	Trusted  bool   `json:"trusted"`
}

// Artifact is an input of the step, with the spokes that hold it.
type Artifact struct {
	Name   string   `json:"name"`
	Size   int64    `json:"size"`
	Spokes []string `json:"spokes"`
}

// Resources are CPU cores, memory bytes and steps.
type Resources struct {
	CPU    float64 `json:"cpu,omitempty"`
	Memory int64   `json:"memory,omitempty"`
	Steps  int     `json:"steps,omitempty"`
}

type Spoke struct {
	Name          string            `json:"name"`
	Team          string            `json:"team"` // "": the shared pool
	Pool          string            `json:"pool"`
	Labels        map[string]string `json:"labels"`
	Tags          []string          `json:"tags"`
	Health        string            `json:"health"` // healthy, unknown (lease lapsed), landing, landed or retiring
	Capacity      Resources         `json:"capacity"`
	Load          Resources         `json:"load"`
	CachedVolumes []string          `json:"cached_volumes"`
}

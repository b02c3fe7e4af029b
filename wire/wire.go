// Package wire is the protocol between a spoke agent and the hub: JSON over
// HTTPS that the spoke dials (the hub never dials spokes). A spoke joins with a
// team-scoped token, then authenticates with its own credential, renews its
// lease, long-polls for its steps and reports logs and results, each report
// carrying the step's id and fence.
package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/pipeline"
)

// Paths, below the hub's URL.
const (
	PathJoin      = "/api/spoke/v1/join"
	PathHeartbeat = "/api/spoke/v1/heartbeat"
	PathRetire    = "/api/spoke/v1/retire"               // POST: the spoke retires: it takes no new steps, and is removed once its steps are done
	PathSteps     = "/api/spoke/v1/steps"                // GET: long-poll for open steps
	PathLogs      = "/api/spoke/v1/steps/{id}/logs"      // POST LogBatch
	PathResult    = "/api/spoke/v1/steps/{id}/result"    // POST Result
	PathIntercept = "/api/spoke/v1/intercepts/{id}"      // GET: websocket, relayed to fly's hijack
	PathArtifacts = "/api/spoke/v1/steps/{id}/artifacts" // POST ArtifactsRequest: signed URLs for the step's artifacts
	PathBlobs     = "/api/spoke/v1/blobs/"               // GET, PUT: objects the hub serves under URLs it signed
)

// Heartbeat renews the spoke's lease and says which artifacts its cache
// evicted since the last one, so that placement stops counting on them.
type Heartbeat struct {
	Evicted []string `json:"evicted,omitempty"`
}

// HeartbeatResponse is the spoke's state as the hub sees it: running,
// landing, landed (the spoke leaves: it is drained) or retiring.
type HeartbeatResponse struct {
	State string `json:"state"`
}

// ArtifactRef is a build artifact's content: the digest of its tar+zstd
// stream and the stream's size.
type ArtifactRef struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// Artifact is a build artifact a step produced.
type Artifact struct {
	Name string `json:"name"`
	ArtifactRef
}

// ArtifactsRequest asks for signed URLs: to read the step's input artifacts
// (by build artifact name: a step reads only its build's artifacts), and to
// write artifacts it produced.
type ArtifactsRequest struct {
	Fence int64         `json:"fence"`
	Get   []string      `json:"get,omitempty"`
	Put   []ArtifactRef `json:"put,omitempty"`
}

// ArtifactURLs answers an ArtifactsRequest with short-lived URLs by digest. A
// digest asked for in Put but missing from it is stored already.
type ArtifactURLs struct {
	Get map[string]string `json:"get"`
	Put map[string]string `json:"put"`
}

type JoinRequest struct {
	Token   string            `json:"token"`
	Name    string            `json:"name"`
	Runtime string            `json:"runtime"`
	Labels  map[string]string `json:"labels,omitempty"`
	Tags    []string          `json:"tags,omitempty"` // Concourse worker tags: steps with tags run only on spokes with all of them
	// Capacity is what the spoke can run at once, as far as it knows: zero
	// values are unknown (no bound).
	Capacity Capacity `json:"capacity"`
	// Credential is the one the hub gave this spoke when it last joined, if
	// it kept it: it proves the spoke is the one that holds the name, and
	// keeps its steps. A spoke without it joins as a new identity, and only
	// under a name that no live spoke holds.
	Credential string `json:"credential,omitempty"`
}

// Capacity is CPU cores, memory bytes and steps.
type Capacity struct {
	CPU    float64 `json:"cpu,omitempty"`
	Memory int64   `json:"memory,omitempty"`
	Steps  int     `json:"steps,omitempty"`
}

type JoinResponse struct {
	SpokeID      int64  `json:"spoke_id"`
	Credential   string `json:"credential"`
	LeaseSeconds int    `json:"lease_seconds"`
}

// Steps answers a long poll: the assignments the spoke does not run yet, and the
// ids of every step still assigned to it. A step the spoke runs that is not in
// Open has been aborted or given to another spoke: stop it.
type Steps struct {
	New  []Assignment `json:"new"`
	Open []int64      `json:"open"`
	// Intercepts are fly intercept sessions waiting for the spoke: it dials
	// PathIntercept for each, and the hub relays fly's hijack messages (the
	// process spec first, then stdin) and the spoke's answers.
	Intercepts []Intercept `json:"intercepts,omitempty"`
}

// Intercept asks the spoke to run a process in one of its running steps.
type Intercept struct {
	ID     int64 `json:"id"`
	StepID int64 `json:"step_id"`
}

// Assignment is a step for the spoke to run.
type Assignment struct {
	StepID  int64  `json:"step_id"`
	Fence   int64  `json:"fence"`
	BuildID int64  `json:"build_id"`
	PlanID  string `json:"plan_id"`
	Attempt int    `json:"attempt"`
	Run     int    `json:"run,omitempty"` // 2, 3, ... after lost runs
	// Started says a process of this spoke reported the run started
	// before. A spoke that is not running it (it restarted) re-attaches to
	// it if its runtime can (a pod), or reports the run lost: it never runs
	// it again from the start as the same run.
	Started bool `json:"started,omitempty"`
	// Request is what to run, its ((vars)) filled in by the hub; Redact
	// lists the secret values in it, which the spoke replaces with
	// ((redacted)) in the step's output and error.
	Request StepRequest `json:"request"`
	Redact  []string    `json:"redact,omitempty"`
}

// MaxRuns is how many times the hub runs a step whose runs are lost (Lost in
// the Result): evicted, gone with their node, or their spoke stopped
// answering.
const MaxRuns = 3

// RerunsWhenLost says whether a step whose run was lost runs again, on a
// spoke placed afresh. Gets, tasks and checks do: what they give the build
// is content-addressed, so running them twice is safe. A put has effects
// outside the build that may have happened already, so it runs again only
// when its request says that is safe (RerunWhenLost); otherwise its step
// errors with PutNotRerun.
func RerunsWhenLost(kind StepKind, req StepRequest) bool {
	return kind != KindPut || req.RerunWhenLost
}

// PutNotRerun is what a put whose run was lost says when it is not run again.
const PutNotRerun = "a put is not run again when its run is lost, since what it did outside the build may have happened: " +
	"check the resource, then rerun the build (a put whose second run is harmless says so with params.switchyard_rerun_when_lost: true)"

// IdempotentPutTypes are the built-in resource types whose put may run twice:
// registry-image pushes content-addressed images (the same image again
// changes nothing), mock changes nothing outside.
var IdempotentPutTypes = map[string]bool{"registry-image": true, "mock": true}

// RerunParam is the put param by which a step says running it twice is safe;
// the hub takes it out of the params the resource sees.
const RerunParam = "switchyard_rerun_when_lost"

// StepKind is what a step does.
type StepKind string

const (
	KindTask  StepKind = "task"
	KindGet   StepKind = "get"
	KindPut   StepKind = "put"
	KindCheck StepKind = "check"
	// KindLoadVar reads a file of a build artifact for a load_var step.
	KindLoadVar StepKind = "load_var"
)

// MaxLoadVarFile bounds the file a load_var step reads.
const MaxLoadVarFile = 1 << 20

// StepRequest says what to run.
type StepRequest struct {
	Kind StepKind `json:"kind"`
	Name string   `json:"name"`
	Tags []string `json:"tags,omitempty"` // the step's Concourse tags, which placement matches with spokes' tags

	// Resources (get, put, check).
	Type string `json:"type,omitempty"`
	// RerunWhenLost says a put may run again when its run is lost
	// (RerunsWhenLost).
	RerunWhenLost bool              `json:"rerun_when_lost,omitempty"`
	Source        json.RawMessage   `json:"source,omitempty"`
	Params        json.RawMessage   `json:"params,omitempty"`
	Version       map[string]string `json:"version,omitempty"`
	// TypeImage is the build artifact that holds a custom type's image (a
	// rootfs/ and metadata.json, or a registry-image get's repository and
	// digest), which the hub fetched with the type's own check and get;
	// TypeImageSource is the registry-image source it came from, for its
	// pull credentials. Empty for a core type, which the spoke runs itself.
	TypeImage       string          `json:"type_image,omitempty"`
	TypeImageSource json.RawMessage `json:"type_image_source,omitempty"`
	TypePrivileged  bool            `json:"type_privileged,omitempty"`
	// ForTask says a get fetches a task's image: a kube spoke then fetches
	// only what names it (its pods pull it by digest), a local one its rootfs.
	ForTask bool `json:"for_task,omitempty"`

	// Tasks.
	Task *TaskRequest `json:"task,omitempty"`

	// LoadFile is the file a load_var step reads: artifact/path/in/it.
	LoadFile string `json:"load_file,omitempty"`

	// Artifacts: for a task, input name -> build artifact; for a put, every
	// artifact it may read. Outputs are the build artifacts the step produces.
	Inputs  map[string]string `json:"inputs,omitempty"`
	Outputs map[string]string `json:"outputs,omitempty"` // output name -> build artifact
	// Artifacts says what the build artifacts among the inputs hold; the
	// spoke fetches those its cache lacks.
	Artifacts map[string]ArtifactRef `json:"artifacts,omitempty"`

	// CacheEpochs move a step's caches on when fly clears them: for a task,
	// cache path ("" for every path) -> epoch; for a get, "" -> the epoch of
	// the resource's cache of the version. A spoke keys its caches by them.
	CacheEpochs map[string]int64 `json:"cache_epochs,omitempty"`

	// Env is the build metadata (BUILD_ID, BUILD_NAME, ...).
	Env map[string]string `json:"env,omitempty"`

	// TraceParent is the W3C traceparent of the step run's span, when the
	// hub traces: the spoke's spans of the run are its children, and the
	// step's process gets it (or the spoke's own span of the run) as
	// TRACEPARENT.
	TraceParent string `json:"traceparent,omitempty"`
	// SpanParent is the span id of that span's parent (the build's), for
	// the hub that ends it.
	SpanParent string `json:"span_parent,omitempty"`
}

// CacheEpoch is the epoch of the step's cache at path ("" for a get's).
func (r StepRequest) CacheEpoch(p string) int64 {
	if p == "" {
		return r.CacheEpochs[""]
	}
	return r.CacheEpochs[""] + r.CacheEpochs[path.Clean(p)]
}

// CheckPaths says why a request holds a name or path that would leave its
// place on the spoke (an artifact name with a slash, an output path with
// ".."). The hub checks pipelines and plans before; a spoke checks again
// before it touches its disk, whatever the hub let through.
func (r StepRequest) CheckPaths() error {
	var names []string
	for k, v := range r.Inputs {
		names = append(names, k, v)
	}
	for k, v := range r.Outputs {
		names = append(names, k, v)
	}
	for k := range r.Artifacts {
		names = append(names, k)
	}
	if r.LoadFile != "" {
		artifact, rest, _ := strings.Cut(r.LoadFile, "/")
		names = append(names, artifact)
		if err := pipeline.CheckRelPath(rest); err != nil {
			return fmt.Errorf("load_var file %q: %w", r.LoadFile, err)
		}
	}
	if t := r.Task; t != nil {
		for k, v := range t.OutputMapping {
			names = append(names, k, v)
		}
		if t.Image != "" {
			names = append(names, t.Image)
		}
		if t.ConfigPath != "" {
			artifact, rest, _ := strings.Cut(t.ConfigPath, "/")
			names = append(names, artifact)
			if err := pipeline.CheckRelPath(rest); err != nil {
				return fmt.Errorf("config_path %q: %w", t.ConfigPath, err)
			}
		}
		if t.Config != nil {
			if err := pipeline.CheckTaskPaths(t.Config); err != nil {
				return err
			}
		}
	}
	for _, n := range names {
		if err := pipeline.CheckName(n); err != nil {
			return fmt.Errorf("artifact %w", err)
		}
	}
	return nil
}

type TaskRequest struct {
	Config        *pipeline.TaskConfig `json:"config,omitempty"`
	ConfigPath    string               `json:"config_path,omitempty"` // artifact/path/to/task.yml
	Params        map[string]string    `json:"params,omitempty"`
	Privileged    bool                 `json:"privileged,omitempty"`
	OutputMapping map[string]string    `json:"output_mapping,omitempty"`
	// Image is the build artifact that holds the task's image (a
	// registry-image get: rootfs/, metadata.json, repository, digest), from
	// the step's image: or its image_resource; empty runs the runtime's default.
	Image string `json:"image,omitempty"`
	// ImageSource is the registry-image source the image came from (its
	// repository, credentials, ca_certs), for a kube spoke's pull secret.
	ImageSource json.RawMessage `json:"image_source,omitempty"`
}

// LogLine is one chunk of a step's output; Seq counts from 1 per step, so the
// hub drops lines it already has when a spoke resends after a reconnect.
type LogLine struct {
	Seq    int64  `json:"seq"`
	Time   int64  `json:"time"`
	Source string `json:"source"` // stdout or stderr
	Text   string `json:"text"`
}

// LogBatch reports lines; an empty batch says the step has started.
type LogBatch struct {
	Fence int64     `json:"fence"`
	Lines []LogLine `json:"lines"`
}

// Result reports how a step ended.
type Result struct {
	Fence      int64               `json:"fence"`
	ExitStatus int                 `json:"exit_status"`
	Error      string              `json:"error,omitempty"` // the step errored: it could not run
	Lost       bool                `json:"lost,omitempty"`  // and not for its own fault: the hub may run it again
	Version    map[string]string   `json:"version,omitempty"`
	Metadata   []MetadataField     `json:"metadata,omitempty"`
	Versions   []map[string]string `json:"versions,omitempty"`  // check
	Outputs    []string            `json:"outputs,omitempty"`   // build artifacts the step produced
	Artifacts  []Artifact          `json:"artifacts,omitempty"` // and their content, stored
	Fetched    []string            `json:"fetched,omitempty"`   // digests the spoke's cache took in for the step
	File       []byte              `json:"file,omitempty"`      // load_var: the file's content
	// The step's log lines the hub has not acknowledged yet, and whether it
	// has not been told yet that the step started: a short step's whole
	// report is its result.
	Lines   []LogLine `json:"lines,omitempty"`
	Started bool      `json:"started,omitempty"`
}

type MetadataField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// TaskEventConfig is the task's config as initialize-task and start-task show it.
func (r StepRequest) TaskEventConfig() api.TaskEventConfig {
	out := api.TaskEventConfig{Inputs: []api.TaskInputConfig{}, Run: api.TaskRunConfig{Args: []string{}}}
	if r.Task == nil || r.Task.Config == nil {
		return out
	}
	cfg := r.Task.Config
	out.Platform = cfg.Platform
	if cfg.Run != nil {
		out.Run = api.TaskRunConfig{Path: cfg.Run.Path, Args: append([]string{}, cfg.Run.Args...), Dir: cfg.Run.Dir}
	}
	for _, in := range cfg.Inputs {
		out.Inputs = append(out.Inputs, api.TaskInputConfig{Name: in.Name, Path: in.Path})
	}
	return out
}

// ProcessIO is how an intercepted process talks to fly: stdin until EOF,
// stdout and stderr (one stream with a TTY), and terminal resizes.
type ProcessIO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Resize <-chan api.HijackWindowSize
}

// KeepFailed is how long a failed step stays interceptable: its pod is kept
// (on kube spokes), and the hub lists it as a "failed" container.
const KeepFailed = 5 * time.Minute

// ErrExecutableNotFound says an intercept's path is not in the container;
// fly then tries sh instead of bash.
var ErrExecutableNotFound = errors.New("executable not found")

// MaxSpokeNameLen keeps a spoke's name a Kubernetes label value, which the
// kube runtime puts on its pods.
const MaxSpokeNameLen = 63

// ValidSpokeName says why a spoke name is refused: it is a label value, a
// path element and a worker name in fly's tables.
func ValidSpokeName(name string) error {
	if name == "" || len(name) > MaxSpokeNameLen {
		return fmt.Errorf("spoke name %q: give a name of 1 to %d characters", name, MaxSpokeNameLen)
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || i > 0 && (c == '-' || c == '_' || c == '.')
		if !ok {
			return fmt.Errorf("spoke name %q: use letters, digits, '-', '_' and '.', starting with a letter or digit", name)
		}
	}
	if c := name[len(name)-1]; c == '-' || c == '_' || c == '.' {
		return fmt.Errorf("spoke name %q: end it with a letter or digit", name)
	}
	return nil
}

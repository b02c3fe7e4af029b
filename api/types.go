package api

import (
	"encoding/json"
	"time"
)

// Version is what the hub reports in /api/v1/info: fly 8.2 runs against any
// 8.2.x without asking to sync.
const Version = "8.2.5"

// WorkerVersion is the worker protocol version spokes report as workers.
const WorkerVersion = "2.5"

type Info struct {
	Version       string          `json:"version"`
	WorkerVersion string          `json:"worker_version"`
	FeatureFlags  map[string]bool `json:"feature_flags"`
	ExternalURL   string          `json:"external_url,omitempty"`
	ClusterName   string          `json:"cluster_name,omitempty"`
}

type UserInfo struct {
	Sub           string              `json:"sub"`
	Name          string              `json:"name"`
	UserID        string              `json:"user_id"`
	UserName      string              `json:"user_name"`
	Email         string              `json:"email"`
	IsAdmin       bool                `json:"is_admin"`
	IsSystem      bool                `json:"is_system"`
	Teams         map[string][]string `json:"teams"`
	Connector     string              `json:"connector"`
	DisplayUserID string              `json:"display_user_id"`
}

// TeamAuth is role -> members, as Concourse stores it.
type TeamAuth map[string]RoleMembers

type RoleMembers struct {
	Users  []string `json:"users"`
	Groups []string `json:"groups"`
}

type Team struct {
	ID   int64    `json:"id,omitempty"`
	Name string   `json:"name,omitempty"`
	Auth TeamAuth `json:"auth,omitempty"`
}

type Token struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

type Pipeline struct {
	ID           int64           `json:"id"`
	Name         string          `json:"name"`
	InstanceVars json.RawMessage `json:"instance_vars,omitempty"`
	Paused       bool            `json:"paused"`
	PausedBy     string          `json:"paused_by,omitempty"`
	PausedAt     int64           `json:"paused_at,omitempty"`
	Public       bool            `json:"public"`
	Archived     bool            `json:"archived"`
	TeamName     string          `json:"team_name"`
	LastUpdated  int64           `json:"last_updated,omitempty"`
	// The job and build whose set_pipeline step set it (omitted for fly).
	ParentBuildID int64 `json:"parent_build_id,omitempty"`
	ParentJobID   int64 `json:"parent_job_id,omitempty"`
}

type ConfigWarning struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

type SaveConfigResponse struct {
	Errors   []string        `json:"errors,omitempty"`
	Warnings []ConfigWarning `json:"warnings,omitempty"`
}

type ConfigResponse struct {
	Config json.RawMessage `json:"config"`
}

type RerunOf struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type Build struct {
	ID           int64           `json:"id"`
	TeamName     string          `json:"team_name"`
	Name         string          `json:"name"`
	Status       BuildStatus     `json:"status"`
	APIURL       string          `json:"api_url"`
	Comment      string          `json:"comment,omitempty"`
	JobName      string          `json:"job_name,omitempty"`
	ResourceName string          `json:"resource_name,omitempty"`
	PipelineID   int64           `json:"pipeline_id,omitempty"`
	PipelineName string          `json:"pipeline_name,omitempty"`
	InstanceVars json.RawMessage `json:"pipeline_instance_vars,omitempty"`
	StartTime    int64           `json:"start_time,omitempty"`
	EndTime      int64           `json:"end_time,omitempty"`
	RerunOf      *RerunOf        `json:"rerun_of,omitempty"`
	CreatedBy    string          `json:"created_by,omitempty"`
}

// BuildSummary is the build inside a JobSummary.
type BuildSummary struct {
	ID           int64           `json:"id"`
	Name         string          `json:"name"`
	Status       BuildStatus     `json:"status"`
	StartTime    int64           `json:"start_time,omitempty"`
	EndTime      int64           `json:"end_time,omitempty"`
	TeamName     string          `json:"team_name"`
	PipelineID   int64           `json:"pipeline_id"`
	PipelineName string          `json:"pipeline_name"`
	InstanceVars json.RawMessage `json:"pipeline_instance_vars,omitempty"`
	JobName      string          `json:"job_name"`
}

type JobInput struct {
	Name     string   `json:"name"`
	Resource string   `json:"resource"`
	Trigger  bool     `json:"trigger"`
	Passed   []string `json:"passed,omitempty"`
}

type JobOutput struct {
	Name     string `json:"name"`
	Resource string `json:"resource"`
}

type Job struct {
	ID                   int64           `json:"id"`
	Name                 string          `json:"name"`
	TeamName             string          `json:"team_name"`
	PipelineID           int64           `json:"pipeline_id"`
	PipelineName         string          `json:"pipeline_name"`
	InstanceVars         json.RawMessage `json:"pipeline_instance_vars,omitempty"`
	Paused               bool            `json:"paused,omitempty"`
	HasNewInputs         bool            `json:"has_new_inputs,omitempty"`
	DisableManualTrigger bool            `json:"disable_manual_trigger,omitempty"`
	NextBuild            *Build          `json:"next_build"`
	FinishedBuild        *Build          `json:"finished_build"`
	Inputs               []JobInput      `json:"inputs,omitempty"`
	Outputs              []JobOutput     `json:"outputs,omitempty"`
}

type JobSummary struct {
	ID            int64           `json:"id"`
	Name          string          `json:"name"`
	TeamName      string          `json:"team_name"`
	PipelineID    int64           `json:"pipeline_id"`
	PipelineName  string          `json:"pipeline_name"`
	InstanceVars  json.RawMessage `json:"pipeline_instance_vars,omitempty"`
	Paused        bool            `json:"paused,omitempty"`
	NextBuild     *BuildSummary   `json:"next_build,omitempty"`
	FinishedBuild *BuildSummary   `json:"finished_build,omitempty"`
}

// CheckRequest is the body of a manual check.
type CheckRequest struct {
	From    map[string]string `json:"from"`
	Shallow bool              `json:"shallow"`
}

type Resource struct {
	Name           string            `json:"name"`
	PipelineID     int64             `json:"pipeline_id"`
	PipelineName   string            `json:"pipeline_name"`
	TeamName       string            `json:"team_name"`
	Type           string            `json:"type"`
	LastChecked    int64             `json:"last_checked,omitempty"`
	PinnedVersion  map[string]string `json:"pinned_version,omitempty"`
	PinnedInConfig bool              `json:"pinned_in_config,omitempty"`
	PinComment     string            `json:"pin_comment,omitempty"`
	Build          *BuildSummary     `json:"build,omitempty"` // the latest check build
}

// Wall is the wall's message (GET and PUT /api/v1/wall): expires_in is a
// Go duration, in nanoseconds.
type Wall struct {
	Message   string        `json:"message,omitempty"`
	ExpiresIn time.Duration `json:"expires_in,omitempty"`
}

// PinComment is the body of PUT .../resources/R/pin_comment.
type PinComment struct {
	PinComment string `json:"pin_comment"`
}

// SharedVersions answers GET .../resources/R/shared and
// .../resource-types/T/shared: what shares the version history (fly
// clear-versions lists it before it asks).
type SharedVersions struct {
	Resources     []ResourceIdentifier `json:"resources"`
	ResourceTypes []ResourceIdentifier `json:"resource_types"`
}

// ResourceIdentifier names a resource or resource type.
type ResourceIdentifier struct {
	Name         string `json:"name"`
	PipelineName string `json:"pipeline_name"`
	TeamName     string `json:"team_name"`
}

// VersionsRemoved answers DELETE .../resources/R/versions and
// .../resource-types/T/versions (fly clear-versions).
type VersionsRemoved struct {
	VersionsRemoved int64 `json:"versions_removed"`
}

// BuildInput is one input of a job's next build (GET .../jobs/J/inputs).
// ResourceType is a pipeline's resource type (GET …/pipelines/P/resource-types,
// which fly execute -j reads).
type ResourceType struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Source     map[string]any `json:"source"`
	Defaults   map[string]any `json:"defaults,omitempty"`
	Privileged bool           `json:"privileged,omitempty"`
	CheckEvery string         `json:"check_every,omitempty"`
	Tags       []string       `json:"tags,omitempty"`
	Params     map[string]any `json:"params,omitempty"`
}

type BuildInput struct {
	Name     string            `json:"name"`
	Resource string            `json:"resource"`
	Type     string            `json:"type"`
	Source   map[string]any    `json:"source"`
	Params   map[string]any    `json:"params,omitempty"`
	Version  map[string]string `json:"version"`
	Tags     []string          `json:"tags,omitempty"`
}

// The values of BuildPreparation's fields.
const (
	PrepUnknown     = "unknown"
	PrepBlocking    = "blocking"
	PrepNotBlocking = "not_blocking"
)

// BuildPreparation says why a build is pending.
type BuildPreparation struct {
	BuildID             int64             `json:"build_id"`
	PausedPipeline      string            `json:"paused_pipeline"`
	PausedJob           string            `json:"paused_job"`
	MaxRunningBuilds    string            `json:"max_running_builds"`
	Inputs              map[string]string `json:"inputs"`
	InputsSatisfied     string            `json:"inputs_satisfied"`
	MissingInputReasons map[string]string `json:"missing_input_reasons"`
	// Switchyard's addition: what to do about each missing input.
	MissingInputDetails map[string]string `json:"missing_input_details,omitempty"`
}

// BuildInputsOutputs is GET /api/v1/builds/B/resources.
type BuildInputsOutputs struct {
	Inputs  []PublicBuildInput  `json:"inputs"`
	Outputs []PublicBuildOutput `json:"outputs"`
}

type PublicBuildInput struct {
	Name            string            `json:"name"`
	Version         map[string]string `json:"version"`
	PipelineID      int64             `json:"pipeline_id"`
	FirstOccurrence bool              `json:"first_occurrence"`
}

type PublicBuildOutput struct {
	Name    string            `json:"name"`
	Version map[string]string `json:"version"`
}

type MetadataField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type ResourceVersion struct {
	ID       int64             `json:"id"`
	Version  map[string]string `json:"version"`
	Metadata []MetadataField   `json:"metadata,omitempty"`
	Enabled  bool              `json:"enabled"`
}

type WorkerResourceType struct {
	Type    string `json:"type"`
	Image   string `json:"image"`
	Version string `json:"version"`
}

type Worker struct {
	Addr             string               `json:"addr"`
	BaggageclaimURL  string               `json:"baggageclaim_url"`
	ActiveContainers int                  `json:"active_containers"`
	ActiveVolumes    int                  `json:"active_volumes"`
	ActiveTasks      int                  `json:"active_tasks"`
	ResourceTypes    []WorkerResourceType `json:"resource_types"`
	Platform         string               `json:"platform"`
	Tags             []string             `json:"tags"`
	Team             string               `json:"team"`
	Name             string               `json:"name"`
	Version          string               `json:"version"`
	StartTime        int64                `json:"start_time"`
	Ephemeral        bool                 `json:"ephemeral"`
	State            string               `json:"state"`
}

// ErrorResponse is the JSON body of a failed request.
type ErrorResponse struct {
	Errors []string `json:"errors"`
}

// WorkerArtifact is an artifact fly execute uploaded (build_id 0) or a
// build's artifact it may download (GET /builds/B/artifacts).
type WorkerArtifact struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	BuildID   int64  `json:"build_id"`
	CreatedAt int64  `json:"created_at"`
}

// User is someone who signed in (GET /api/v1/users, fly active-users).
type User struct {
	ID        int64  `json:"id,omitempty"`
	Username  string `json:"username,omitempty"`
	Connector string `json:"connector,omitempty"`
	LastLogin int64  `json:"last_login,omitempty"`
	Sub       string `json:"sub,omitempty"`
}

// CachesRemoved answers DELETE .../jobs/J/tasks/S/cache and
// .../resources/R/cache (fly clear-task-cache, clear-resource-cache).
type CachesRemoved struct {
	CachesRemoved int64 `json:"caches_removed"`
}

package api

import "encoding/json"

// Envelope is one build event as the event stream sends it.
type Envelope struct {
	Data    json.RawMessage `json:"data"`
	Event   string          `json:"event"`
	Version string          `json:"version"`
	EventID string          `json:"event_id,omitempty"`
}

// Origin says which step of the plan an event is about.
type Origin struct {
	ID     string `json:"id,omitempty"`
	Source string `json:"source,omitempty"`
}

// The event types and the versions of them the hub sends (fly 8.2's parsers).
const (
	EventStatus         = "status"
	EventLog            = "log"
	EventInitializeTask = "initialize-task"
	EventStartTask      = "start-task"
	EventFinishTask     = "finish-task"
	EventInitializeGet  = "initialize-get"
	EventStartGet       = "start-get"
	EventFinishGet      = "finish-get"
	EventInitializePut  = "initialize-put"
	EventStartPut       = "start-put"
	EventFinishPut      = "finish-put"
	EventInitializeChk  = "initialize-check"
	EventStart          = "start"
	EventFinish         = "finish"
	EventSelectedWorker = "selected-worker"
	EventError          = "error"
	EventAcrossSubsteps = "across-substeps"
)

// EventVersions maps each event type to the version the hub sends.
var EventVersions = map[string]string{
	EventStatus: "1.0", EventLog: "5.1",
	EventInitializeTask: "4.0", EventStartTask: "5.0", EventFinishTask: "4.0",
	EventInitializeGet: "2.0", EventStartGet: "1.0", EventFinishGet: "5.1",
	EventInitializePut: "2.0", EventStartPut: "1.0", EventFinishPut: "5.1",
	EventInitializeChk: "1.0", EventStart: "1.0", EventFinish: "1.0",
	EventSelectedWorker: "1.0", EventError: "4.1", EventAcrossSubsteps: "1.0",
}

// AcrossSubstepsEvent lists an across step's runs as public plans, one per
// combination of its vars' values.
type AcrossSubstepsEvent struct {
	Time     int64            `json:"time"`
	Origin   Origin           `json:"origin"`
	Substeps []map[string]any `json:"substeps"`
}

// PublicBuildPlan answers GET /api/v1/builds/B/plan.
type PublicBuildPlan struct {
	Schema string         `json:"schema"`
	Plan   map[string]any `json:"plan"`
}

type StatusEvent struct {
	Status BuildStatus `json:"status"`
	Time   int64       `json:"time"`
}

type LogEvent struct {
	Time    int64  `json:"time"`
	Origin  Origin `json:"origin"`
	Payload string `json:"payload"`
}

type TaskRunConfig struct {
	Path string   `json:"path"`
	Args []string `json:"args"`
	Dir  string   `json:"dir"`
}

type TaskInputConfig struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

type TaskEventConfig struct {
	Platform string            `json:"platform"`
	Image    string            `json:"image"`
	Run      TaskRunConfig     `json:"run"`
	Inputs   []TaskInputConfig `json:"inputs"`
}

type TaskEvent struct {
	Time   int64           `json:"time"`
	Origin Origin          `json:"origin"`
	Config TaskEventConfig `json:"config"`
}

type FinishTaskEvent struct {
	Time       int64  `json:"time"`
	ExitStatus int    `json:"exit_status"`
	Origin     Origin `json:"origin"`
}

type StepEvent struct {
	Origin Origin `json:"origin"`
	Time   int64  `json:"time,omitempty"`
}

type FinishResourceEvent struct {
	Origin     Origin            `json:"origin"`
	Time       int64             `json:"time"`
	ExitStatus int               `json:"exit_status"`
	Version    map[string]string `json:"version"`
	Metadata   []MetadataField   `json:"metadata,omitempty"`
}

type SelectedWorkerEvent struct {
	Time           int64  `json:"time"`
	Origin         Origin `json:"origin"`
	SelectedWorker string `json:"selected_worker"`
}

type ErrorEvent struct {
	Message string `json:"message"`
	Origin  Origin `json:"origin"`
	Time    int64  `json:"time"`
}

// FinishEvent is the generic finish of a step (check builds, set_pipeline, ...).
type FinishEvent struct {
	Origin    Origin `json:"origin"`
	Time      int64  `json:"time"`
	Succeeded bool   `json:"succeeded"`
}

// InitializeCheckEvent starts a check build's step.
type InitializeCheckEvent struct {
	Origin Origin `json:"origin"`
	Time   int64  `json:"time,omitempty"`
	Name   string `json:"name"`
}

// BuildLog is a build's events so far in one answer (Switchyard's GET
// /api/v1/builds/B/log, for the web UI): the log lines joined into chunks
// by step, source and second, the other events as they are, and the id of
// the last event, after which the event stream goes on (?after=ID).
type BuildLog struct {
	Chunks []LogChunk `json:"chunks"`
	Events []Envelope `json:"events"`
	LastID int64      `json:"last_id"` // -1: no events yet
	Ended  bool       `json:"ended"`   // the build is over: no more events come
	// Before is the event the log lines start at: the lines of earlier
	// ones come with ?before= (1: there are none).
	Before int64 `json:"before"`
}

// LogChunk is consecutive log lines of one step and source within one
// second.
type LogChunk struct {
	Origin string `json:"origin"`
	Source string `json:"source,omitempty"`
	Time   int64  `json:"time"`
	Text   string `json:"text"`
}

// Package scenario reads the input-algorithm scenarios of shared/algorithm
// (schema concourse-input-algorithm-scenarios/v1): a world of jobs, resource
// versions and builds, the inputs of one job, and what Concourse picks.
package scenario

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

type File struct {
	Schema    string     `json:"schema"`
	Scenarios []Scenario `json:"scenarios"`
}

type Scenario struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Tags       []string   `json:"tags"`
	Iterations int        `json:"iterations"`
	CurrentJob string     `json:"current_job"`
	Jobs       []Job      `json:"jobs"`
	Resources  []Resource `json:"resources"`
	Builds     []Build    `json:"builds"`
	BuildPipes []Pipe     `json:"build_pipes"`
	JobInputs  []Input    `json:"job_inputs"`
	Expected   *Expected  `json:"expected"`
}

type Job struct {
	Name string `json:"name"`
	ID   int64  `json:"id"`
}

type Resource struct {
	Name          string    `json:"name"`
	ID            int64     `json:"id"`
	HasScope      bool      `json:"has_scope"`
	PinnedVersion *string   `json:"pinned_version"`
	Versions      []Version `json:"versions"`
}

type Version struct {
	Version    string `json:"version"`
	ID         int64  `json:"id"`
	CheckOrder int64  `json:"check_order"`
	Disabled   bool   `json:"disabled"`
}

type Build struct {
	ID      int64         `json:"id"`
	Job     string        `json:"job"`
	Status  string        `json:"status"`
	RerunOf *int64        `json:"rerun_of"`
	Inputs  []BuildInput  `json:"inputs"`
	Outputs []BuildOutput `json:"outputs"`
}

type BuildInput struct {
	Name     string `json:"name"`
	Resource string `json:"resource"`
	Version  string `json:"version"`
}

type BuildOutput struct {
	Resource string `json:"resource"`
	Version  string `json:"version"`
}

type Pipe struct {
	From int64 `json:"from_build_id"`
	To   int64 `json:"to_build_id"`
}

type Input struct {
	Name          string   `json:"name"`
	Resource      string   `json:"resource"`
	Passed        []string `json:"passed"`
	Version       string   `json:"version"` // latest, every or pinned
	PinnedVersion *string  `json:"pinned_version"`
}

type Expected struct {
	OK              bool               `json:"ok"`
	Versions        map[string]string  `json:"versions"`
	Errors          map[string]string  `json:"errors"`
	PassedBuildIDs  map[string][]int64 `json:"passed_build_ids"`
	HasNext         *bool              `json:"has_next"`
	FirstOccurrence map[string]bool    `json:"first_occurrence"`
}

// Load reads a scenarios file (.json, or .json.gz): either a file with a
// scenarios list, or one scenario on its own.
func Load(path string) ([]Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var file File
	if err := json.Unmarshal(data, &file); err == nil && len(file.Scenarios) > 0 {
		return file.Scenarios, nil
	}
	var one Scenario
	if err := json.Unmarshal(data, &one); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if one.ID == "" {
		return nil, fmt.Errorf("%s: neither a scenarios file nor a scenario", path)
	}
	return []Scenario{one}, nil
}

// HasTag tells whether the scenario carries a tag.
func (s Scenario) HasTag(tag string) bool {
	for _, t := range s.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// VersionMap is the version object a scenario's version string stands for:
// S is {"ver": S}, and a JSON object (as the versions-db export writes
// versions of other shapes) is itself.
func VersionMap(s string) map[string]string {
	if strings.HasPrefix(s, "{") {
		var m map[string]string
		if json.Unmarshal([]byte(s), &m) == nil {
			return m
		}
	}
	return map[string]string{"ver": s}
}

// VersionString is VersionMap's inverse.
func VersionString(v map[string]string) string {
	if s, ok := v["ver"]; ok && len(v) == 1 {
		return s
	}
	b, _ := json.Marshal(v) // keys sorted: canonical
	return string(b)
}

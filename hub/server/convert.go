package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/store"
)

func toPipeline(p store.Pipeline) api.Pipeline {
	out := api.Pipeline{ID: p.ID, Name: p.Name, Paused: p.Paused, PausedBy: p.PausedBy, Public: p.Public,
		Archived: p.Archived, TeamName: p.TeamName, LastUpdated: p.LastUpdated.Unix(), ParentBuildID: p.ParentBuildID, ParentJobID: p.ParentJobID}
	if p.InstanceVars != "" {
		out.InstanceVars = json.RawMessage(p.InstanceVars)
	}
	if p.PausedAt != nil {
		out.PausedAt = p.PausedAt.Unix()
	}
	return out
}

func toBuild(b store.Build) api.Build {
	out := api.Build{ID: b.ID, TeamName: b.TeamName, Name: b.Name, Status: b.Status,
		APIURL: fmt.Sprintf("/api/v1/builds/%d", b.ID), Comment: b.Comment, JobName: b.JobName, ResourceName: b.ResourceName,
		PipelineID: b.PipelineID, PipelineName: b.PipelineName, CreatedBy: b.CreatedBy}
	if b.InstanceVars != "" {
		out.InstanceVars = json.RawMessage(b.InstanceVars)
	}
	if b.StartTime != nil {
		out.StartTime = b.StartTime.Unix()
	}
	if b.EndTime != nil {
		out.EndTime = b.EndTime.Unix()
	}
	return out
}

func toBuildSummary(b store.Build) *api.BuildSummary {
	full := toBuild(b)
	return &api.BuildSummary{ID: full.ID, Name: full.Name, Status: full.Status, StartTime: full.StartTime, EndTime: full.EndTime,
		TeamName: full.TeamName, PipelineID: full.PipelineID, PipelineName: full.PipelineName, InstanceVars: full.InstanceVars, JobName: full.JobName}
}

// instanceVars reads a pipeline's instance vars from the query (vars={...} or
// vars.path=JSON) as canonical JSON, or "" for a plain pipeline.
func instanceVars(r *http.Request) (string, error) {
	q := r.URL.Query()
	vars := map[string]any{}
	if v := q.Get("vars"); v != "" {
		if err := json.Unmarshal([]byte(v), &vars); err != nil {
			return "", errorf(http.StatusBadRequest, "malformed instance vars: %v", err)
		}
	}
	keys := make([]string, 0)
	for k := range q {
		if strings.HasPrefix(k, "vars.") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		var val any
		if err := json.Unmarshal([]byte(q.Get(k)), &val); err != nil {
			return "", errorf(http.StatusBadRequest, "malformed instance var %s: %v", k, err)
		}
		api.SetPath(vars, strings.Split(strings.TrimPrefix(k, "vars."), "."), val)
	}
	if len(vars) == 0 {
		return "", nil
	}
	b, _ := json.Marshal(vars) // maps marshal with sorted keys: canonical
	return string(b), nil
}

// page reads Concourse's paging parameters.
func page(r *http.Request) (store.Page, error) {
	q := r.URL.Query()
	var p store.Page
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"from", &p.From}, {"to", &p.To}} {
		if v := q.Get(f.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return p, errorf(http.StatusBadRequest, "%s must be a build id, or Unix seconds with timestamps=true", f.name)
			}
			*f.dst = n
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return p, errorf(http.StatusBadRequest, "limit must be a positive number")
		}
		p.Limit = n
	}
	p.Timestamps = q.Get("timestamps") == "true"
	if p.From < 0 || p.To < 0 {
		return p, errorf(http.StatusBadRequest, "from and to must not be negative")
	}
	if p.From > 0 && p.To > 0 && p.From > p.To {
		return p, errorf(http.StatusBadRequest, "from must not be greater than to")
	}
	return p, nil
}

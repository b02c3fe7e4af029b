package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchyard-ci/switchyard/hub/auth"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/web"
	"github.com/switchyard-ci/switchyard/pipeline"
)

// The pipeline page: its graph, groups, jobs and resources.

func (s *Server) pipelinePage(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := s.pipelineFromPath(r)
	if err != nil {
		return err
	}
	jobsOf, err := s.jobViews(r, p)
	if err != nil {
		return err
	}
	jobs, byName := jobsOf[p.ID], map[string]jobView{}
	for _, j := range jobs {
		byName[j.Name] = j
	}
	raw, _, err := s.store.PipelineConfig(r.Context(), p.TeamID, p.Name, p.InstanceVars)
	if err != nil {
		return err
	}
	loaded, err := pipeline.Load(raw, pipeline.Options{File: p.Name})
	if err != nil && loaded.Config == nil {
		return fmt.Errorf("pipeline %s: stored config: %w", p.Name, err)
	}
	cfg := loaded.Config
	rs, states, err := s.resourcesWithStates(r.Context(), p.ID)
	if err != nil {
		return err
	}
	type resourceView struct {
		Name, URL string
		Pinned    bool
	}
	var resources []resourceView
	var graphResources []web.GraphResource
	for _, res := range rs {
		st := states[res.ID]
		u := pipelineURL(p) + "/resources/" + url.PathEscape(res.Name)
		resources = append(resources, resourceView{res.Name, u, st.PinnedVersion != nil})
		gr := web.GraphResource{Name: res.Name, URL: u, Pinned: st.PinnedVersion != nil}
		if st.CheckBuild != nil {
			gr.Status = string(st.CheckBuild.Status)
		}
		graphResources = append(graphResources, gr)
	}
	// Groups: the ?group= ones, or the first; their jobs only.
	type groupView struct {
		Name   string
		Active bool
	}
	var groups []groupView
	show := map[string]bool{}
	chosen := r.URL.Query()["group"]
	if cfg != nil {
		for i, g := range cfg.Groups {
			active := len(chosen) == 0 && i == 0
			for _, name := range chosen {
				active = active || name == g.Name
			}
			groups = append(groups, groupView{g.Name, active})
			if active {
				for _, j := range g.Jobs {
					show[j] = true
				}
			}
		}
	}
	filter := strings.TrimSpace(r.URL.Query().Get("filter"))
	if len(filter) > maxSearch {
		return errorf(http.StatusBadRequest, "filter: at most %d characters", maxSearch)
	}
	var graphJobs []web.GraphJob
	if cfg != nil {
		for i := range cfg.Jobs {
			j := &cfg.Jobs[i]
			if len(groups) > 0 && !show[j.Name] {
				continue
			}
			v := byName[j.Name]
			status := v.Status
			if v.Running {
				status += " running"
			}
			if !matches(filter, p.TeamName, j.Name, status, false) {
				continue
			}
			gj := web.GraphJob{Name: j.Name, URL: v.URL, Status: v.Status, Running: v.Running, Outputs: j.Outputs()}
			for _, in := range j.Inputs() {
				gj.Inputs = append(gj.Inputs, web.GraphInput{Resource: in.Resource, Passed: in.Passed, Trigger: in.Trigger})
			}
			graphJobs = append(graphJobs, gj)
		}
	}
	return render(w, r, http.StatusOK, "pipeline", struct {
		web.Page
		Team, Name, API, Since, Filter, Vars string
		ID                                   int64
		Paused                               bool
		CanOperate                           bool
		Groups                               []groupView
		Graph                                web.Graph
		Jobs                                 []jobView
		Resources                            []resourceView
	}{s.pageOf(r, c, p.Name), p.TeamName, p.Name, pipelineAPI(p), since(), filter, varsOf(p), p.ID, p.Paused, c.role(p.TeamName) >= auth.PipelineOperator,
		groups, web.Layout(graphJobs, graphResources), jobs, resources})
}

// pipelineAPI is the API path of a pipeline, for the page's buttons.
// An instanced pipeline's vars follow as ?vars= (web.Join puts a path's
// suffix before them).
func pipelineAPI(p store.Pipeline, suffix ...string) string {
	u := "/api/v1/teams/" + url.PathEscape(p.TeamName) + "/pipelines/" + url.PathEscape(p.Name)
	for _, part := range suffix {
		u += part
	}
	if vars := varsOf(p); vars != "" {
		u += "?vars=" + url.QueryEscape(vars)
	}
	return u
}

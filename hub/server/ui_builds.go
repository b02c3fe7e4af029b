package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/auth"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/web"
	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/placement"
)

type buildRow struct {
	Name, URL, Status string
	Start, End        *time.Time
}

func (s *Server) jobPage(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, j, err := s.jobFromPath(r)
	if err != nil {
		return err
	}
	builds, err := s.store.Builds(r.Context(), store.BuildFilter{JobID: j.ID}, store.Page{Limit: 100})
	if err != nil {
		return err
	}
	var rows []buildRow
	for _, b := range builds {
		base, vars, _ := strings.Cut(jobURL(p, j.Name), "?")
		u := base + "/builds/" + url.PathEscape(b.Name)
		if vars != "" {
			u += "?" + vars
		}
		rows = append(rows, buildRow{Name: b.Name, URL: u,
			Status: string(b.Status), Start: b.StartTime, End: b.EndTime})
	}
	return render(w, r, http.StatusOK, "job", struct {
		web.Page
		Pipeline, PipelineURL, Name, API, Since string
		PipelineID                              int64
		Paused, CanOperate                      bool
		Builds                                  []buildRow
	}{s.pageOf(r, c, j.Name), p.Name, pipelineURL(p), j.Name, pipelineAPI(p, "/jobs/", url.PathEscape(j.Name)), since(),
		p.ID, j.Paused, c.role(p.TeamName) >= auth.PipelineOperator, rows})
}

// jobBuildPage is a job's build at its Concourse URL.
func (s *Server) jobBuildPage(w http.ResponseWriter, r *http.Request, c *caller) error {
	b, err := s.jobBuildFromPath(r)
	if err != nil {
		return err
	}
	return s.showBuild(w, r, c, b)
}

func (s *Server) buildPage(w http.ResponseWriter, r *http.Request, c *caller) error {
	b, err := s.buildFromPath(r)
	if err != nil {
		return err
	}
	return s.showBuild(w, r, c, b)
}

// showBuild renders a build's page: its steps, each with the spoke it ran
// on and why (the placement fly placement explains); the log streams in.
func (s *Server) showBuild(w http.ResponseWriter, r *http.Request, c *caller, b store.Build) error {
	type stepView struct {
		ID, Kind, Name, Spoke, Why string
	}
	var steps []stepView
	var plan pipeline.Plan
	if len(b.Plan) > 0 && json.Unmarshal(b.Plan, &plan) == nil {
		decisions, err := s.store.Placements(r.Context(), b.ID)
		if err != nil {
			return err
		}
		why := map[string]store.PlacementDecision{}
		for _, d := range decisions {
			why[d.PlanID] = d
		}
		for _, st := range plan.Steps() {
			v := stepView{ID: st.ID, Kind: st.Kind, Name: st.Name}
			if d, ok := why[st.ID]; ok {
				v.Spoke = d.Spoke
				var pd placement.Decision
				if json.Unmarshal(d.Decision, &pd) == nil {
					v.Why = pd.Summary()
				}
			}
			steps = append(steps, v)
		}
	}
	view := struct {
		web.Page
		ID                                       int64
		Name, Status, Pipeline, PipelineURL, Job string
		Comment                                  string
		JobURL, RerunURL                         string
		Start, End                               *time.Time
		Done, CanOperate                         bool
		Steps                                    []stepView
	}{Page: s.pageOf(r, c, "build "+b.Name), ID: b.ID, Name: b.Name, Status: string(b.Status), Comment: b.Comment, Start: b.StartTime, End: b.EndTime,
		Done: b.Status != api.BuildPending && b.Status != api.BuildStarted, CanOperate: c.role(b.TeamName) >= auth.PipelineOperator, Steps: steps}
	if b.JobID != 0 {
		p := store.Pipeline{TeamName: b.TeamName, Name: b.PipelineName, InstanceVars: b.InstanceVars}
		view.Pipeline, view.PipelineURL, view.Job = b.PipelineName, pipelineURL(p), b.JobName
		view.JobURL = jobURL(p, b.JobName)
		view.RerunURL = pipelineAPI(p, "/jobs/", url.PathEscape(b.JobName), "/builds/", url.PathEscape(b.Name))
	}
	return render(w, r, http.StatusOK, "build", view)
}

package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/pipeline"
)

func (s *Server) resourceFromPath(r *http.Request) (store.Resource, error) {
	p, err := s.pipelineFromPath(r)
	if err != nil {
		return store.Resource{}, err
	}
	res, err := s.store.ResourceByName(r.Context(), p.ID, r.PathValue("resource"))
	if errors.Is(err, store.ErrNotFound) {
		return res, notFound("resource " + r.PathValue("resource"))
	}
	return res, err
}

// checkResource starts a check build of the resource, from the given version
// if any (fly check-resource -f). Manual checks ignore check_every.
func (s *Server) checkResource(w http.ResponseWriter, r *http.Request, c *caller) error {
	var req api.CheckRequest
	if r.ContentLength != 0 {
		if err := readJSON(r, 64<<10, &req); err != nil {
			return err
		}
	}
	res, err := s.resourceFromPath(r)
	if err != nil {
		return err
	}
	var cfg struct {
		Source map[string]any `json:"source"`
	}
	_ = json.Unmarshal(res.Config, &cfg)
	plan, err := json.Marshal(pipeline.Plan{ID: "1", Check: &pipeline.CheckPlan{
		Name: res.Name, Type: res.Type, Source: cfg.Source, Image: pipeline.TypeImage{BaseType: res.Type},
		FromVersion: req.From, Resource: res.Name,
	}})
	if err != nil {
		return err
	}
	b, err := s.store.CreateCheckBuild(r.Context(), res.ID, c.claims.User, plan)
	if err != nil {
		return err
	}
	s.waker.Wake(b.ID)
	return writeJSON(w, http.StatusCreated, toBuild(b))
}

func (s *Server) listResources(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := s.pipelineFromPath(r)
	if err != nil {
		return err
	}
	rs, err := s.store.Resources(r.Context(), p.ID)
	if err != nil {
		return err
	}
	out := []api.Resource{}
	for _, res := range rs {
		out = append(out, api.Resource{Name: res.Name, PipelineID: p.ID, PipelineName: p.Name, TeamName: p.TeamName, Type: res.Type})
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) listVersions(w http.ResponseWriter, r *http.Request, c *caller) error {
	res, err := s.resourceFromPath(r)
	if err != nil {
		return err
	}
	pg, err := page(r)
	if err != nil {
		return err
	}
	if pg.Limit == 0 {
		pg.Limit = 100
	}
	vs, err := s.store.Versions(r.Context(), res.ID, pg.Limit)
	if err != nil {
		return err
	}
	out := []api.ResourceVersion{}
	for _, v := range vs {
		out = append(out, api.ResourceVersion{ID: v.ID, Version: v.Version, Enabled: !v.Disabled})
	}
	return writeJSON(w, http.StatusOK, out)
}

// listWorkers shows each spoke as a Concourse worker.
func (s *Server) listWorkers(w http.ResponseWriter, r *http.Request, c *caller) error {
	if !c.admin && len(c.teams) == 0 {
		return errorf(http.StatusForbidden, "forbidden")
	}
	spokes, err := s.store.Spokes(r.Context())
	if err != nil {
		return err
	}
	out := []api.Worker{}
	for _, sp := range spokes {
		if sp.TeamName != "" && !c.admin && len(c.teams[sp.TeamName]) == 0 {
			continue
		}
		state := "running"
		if sp.Expired {
			state = "stalled"
		}
		wk := api.Worker{Name: sp.Name, Team: sp.TeamName, Platform: "linux", Tags: []string{}, Version: api.WorkerVersion,
			State: state, ResourceTypes: []api.WorkerResourceType{}}
		if sp.LastSeen != nil {
			wk.StartTime = sp.LastSeen.Unix()
		}
		open, err := s.store.OpenStepIDs(r.Context(), sp.ID)
		if err != nil {
			return err
		}
		wk.ActiveContainers = len(open)
		out = append(out, wk)
	}
	return writeJSON(w, http.StatusOK, out)
}

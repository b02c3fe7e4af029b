package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/placer"
	"github.com/switchyard-ci/switchyard/hub/setpipeline"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/pipeline"
)

// maxConfigBytes bounds a config upload; the parser's own limit is the same.
var maxConfigBytes = int64(pipeline.DefaultLimits.MaxBytes)

func (s *Server) teamFromPath(r *http.Request) (store.Team, error) {
	t, err := s.store.TeamByName(r.Context(), r.PathValue("team"))
	if errors.Is(err, store.ErrNotFound) {
		return t, notFound("team " + r.PathValue("team"))
	}
	return t, err
}

// pipelineFromPath reads the path's pipeline of the path's team (one read;
// the team alone is read when that finds nothing, to say which is missing).
func (s *Server) pipelineFromPath(r *http.Request) (store.Pipeline, error) {
	iv, err := instanceVars(r)
	if err != nil {
		if _, terr := s.teamFromPath(r); terr != nil {
			return store.Pipeline{}, terr
		}
		return store.Pipeline{}, err
	}
	p, err := s.store.PipelineByTeamName(r.Context(), r.PathValue("team"), r.PathValue("pipeline"), iv)
	if errors.Is(err, store.ErrNotFound) {
		if _, terr := s.teamFromPath(r); terr != nil {
			return p, terr
		}
		return p, notFound("pipeline " + r.PathValue("pipeline"))
	}
	return p, err
}

func (s *Server) listAllPipelines(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.listPipelines(w, r, c, 0)
}

func (s *Server) listTeamPipelines(w http.ResponseWriter, r *http.Request, c *caller) error {
	t, err := s.teamFromPath(r)
	if err != nil {
		return err
	}
	return s.listPipelines(w, r, c, t.ID)
}

// listPipelines shows every pipeline of the teams the caller has a role on, and
// the public ones of other teams.
func (s *Server) listPipelines(w http.ResponseWriter, r *http.Request, c *caller, teamID int64) error {
	ps, err := s.store.Pipelines(r.Context(), teamID)
	if err != nil {
		return err
	}
	out := []api.Pipeline{}
	for _, p := range ps {
		if p.Public || c.role(p.TeamName) > 0 {
			out = append(out, toPipeline(p))
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) getPipeline(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := s.pipelineFromPath(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toPipeline(p))
}

func (s *Server) destroyPipeline(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := s.pipelineFromPath(r)
	if err != nil {
		return err
	}
	if err := s.store.DestroyPipeline(r.Context(), p.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request, c *caller) error {
	t, err := s.teamFromPath(r)
	if err != nil {
		return err
	}
	iv, err := instanceVars(r)
	if err != nil {
		return err
	}
	cfg, version, err := s.store.PipelineConfig(r.Context(), t.ID, r.PathValue("pipeline"), iv)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("pipeline " + r.PathValue("pipeline"))
	}
	if err != nil {
		return err
	}
	w.Header().Set("X-Concourse-Config-Version", strconv.FormatInt(version, 10))
	return writeJSON(w, http.StatusOK, api.ConfigResponse{Config: cfg})
}

// saveConfig validates and stores a config sent by set-pipeline. The config
// version in X-Concourse-Config-Version must be the current one (0 or empty for
// a new pipeline), or nothing is written.
func (s *Server) saveConfig(w http.ResponseWriter, r *http.Request, c *caller) error {
	t, err := s.teamFromPath(r)
	if err != nil {
		return err
	}
	iv, err := instanceVars(r)
	if err != nil {
		return err
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-yaml" && mt != "application/json" && mt != "text/yaml" {
		w.WriteHeader(http.StatusUnsupportedMediaType)
		return nil
	}
	var from int64
	if v := r.Header.Get("X-Concourse-Config-Version"); v != "" {
		if from, err = strconv.ParseInt(v, 10, 64); err != nil {
			return configErrors(w, []string{"X-Concourse-Config-Version must be a number, got " + strconv.Quote(v)})
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxConfigBytes))
	if err != nil {
		return configErrors(w, []string{fmt.Sprintf("config is over the limit of %d bytes", maxConfigBytes)})
	}
	loaded, err := pipeline.Load(body, pipeline.Options{})
	if err != nil {
		var msgs []string
		var list pipeline.Errors
		if errors.As(err, &list) {
			for _, e := range list {
				msgs = append(msgs, e.Error())
			}
		} else {
			msgs = []string{err.Error()}
		}
		return configErrors(w, msgs)
	}
	if r.URL.Query().Has("check_creds") {
		if err := s.checkCreds(r.Context(), t.Name, r.PathValue("pipeline"), loaded); err != nil {
			return configErrors(w, []string{"credential validation failed\n\n" + err.Error()})
		}
	}
	verdict, err := s.admitPipeline(r, c, t, loaded)
	if err != nil {
		return err
	}
	if len(verdict.Blocked) > 0 {
		return writeJSON(w, http.StatusForbidden, api.SaveConfigResponse{Errors: verdict.Blocked})
	}
	params, err := setpipeline.Params(loaded)
	if err != nil {
		return err
	}
	params.TeamID, params.Name, params.InstanceVars, params.FromVersion = t.ID, r.PathValue("pipeline"), iv, from
	saved, err := s.store.SavePipeline(r.Context(), params)
	if errors.Is(err, store.ErrConfigConflict) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "failed to save config: comparison with existing config failed during save")
		return nil
	}
	if err != nil {
		return err
	}
	resp := api.SaveConfigResponse{}
	for _, warn := range loaded.Warnings {
		resp.Warnings = append(resp.Warnings, api.ConfigWarning{Type: warn.Type, Message: warn.Error.Error()})
	}
	for _, msg := range verdict.Warnings {
		resp.Warnings = append(resp.Warnings, api.ConfigWarning{Type: "policy", Message: msg})
	}
	status := http.StatusOK
	if saved.Created {
		status = http.StatusCreated
	}
	return writeJSON(w, status, resp)
}

func configErrors(w http.ResponseWriter, msgs []string) error {
	return writeJSON(w, http.StatusBadRequest, api.SaveConfigResponse{Errors: msgs})
}

func (s *Server) pausePipeline(paused bool) handler {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		return s.changePipeline(w, r, store.PipelineChange{Paused: &paused, PausedBy: c.claims.User})
	}
}

func (s *Server) exposePipeline(public bool) handler {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		return s.changePipeline(w, r, store.PipelineChange{Public: &public})
	}
}

// trustPipeline marks a pipeline's builds trusted or untrusted, which
// placement policies see as build.trusted.
func (s *Server) trustPipeline(trusted bool) handler {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		return s.changePipeline(w, r, store.PipelineChange{Trusted: &trusted})
	}
}

func (s *Server) archivePipeline(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.changePipeline(w, r, store.PipelineChange{Archive: true})
}

func (s *Server) changePipeline(w http.ResponseWriter, r *http.Request, change store.PipelineChange) error {
	p, err := s.pipelineFromPath(r)
	if err != nil {
		return err
	}
	if p.Archived && !change.Archive {
		return archivedConflict(w)
	}
	if err := s.store.UpdatePipeline(r.Context(), p.ID, change); err != nil {
		return err
	}
	s.waker.WakeScheduler()
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) renamePipeline(w http.ResponseWriter, r *http.Request, c *caller) error {
	var body struct {
		Name string `json:"name"`
	}
	if err := readJSON(r, 64<<10, &body); err != nil {
		return err
	}
	if body.Name == "" {
		return configErrors(w, []string{"new name must not be empty"})
	}
	if err := pipeline.CheckName(body.Name); err != nil {
		return configErrors(w, []string{"new name: " + err.Error()})
	}
	p, err := s.pipelineFromPath(r)
	if err != nil {
		return err
	}
	if err := s.store.UpdatePipeline(r.Context(), p.ID, store.PipelineChange{Rename: body.Name}); err != nil {
		return errorf(http.StatusConflict, "%v", err)
	}
	return writeJSON(w, http.StatusOK, api.SaveConfigResponse{})
}

// orderPipelines places a team's pipeline groups in the given order (fly
// order-pipelines).
func (s *Server) orderPipelines(w http.ResponseWriter, r *http.Request, c *caller) error {
	var names []string
	if err := readJSON(r, 1<<20, &names); err != nil {
		return err
	}
	for _, n := range names {
		if err := pipeline.CheckName(n); err != nil {
			return errorf(http.StatusBadRequest, "pipeline name %q: %v", n, err)
		}
	}
	t, err := s.teamFromPath(r)
	if err != nil {
		return err
	}
	err = s.store.OrderPipelines(r.Context(), t.ID, names)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// orderInstancedPipelines is fly order-instanced-pipelines: a JSON list of
// instance vars objects, an empty one for the plain pipeline of the name.
func (s *Server) orderInstancedPipelines(w http.ResponseWriter, r *http.Request, c *caller) error {
	var list []map[string]any
	if err := readJSON(r, 1<<20, &list); err != nil {
		return err
	}
	group := r.PathValue("pipeline")
	if err := pipeline.CheckName(group); err != nil {
		return errorf(http.StatusBadRequest, "pipeline name %q: %v", group, err)
	}
	instances := make([]string, len(list))
	for i, vars := range list {
		if len(vars) > 0 {
			raw, _ := json.Marshal(vars) // maps marshal with sorted keys: canonical
			instances[i] = string(raw)
		}
	}
	t, err := s.teamFromPath(r)
	if err != nil {
		return err
	}
	err = s.store.OrderInstancedPipelines(r.Context(), t.ID, group, instances)
	if errors.Is(err, store.ErrNotFound) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, err.Error()+"\n")
		return nil
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// backfillSchedules gives the jobs of pipelines saved before the scheduler
// existed their plans and inputs, from the stored configs. A config that no
// longer loads is left alone and logged: set it again to schedule its jobs.
func (s *Server) backfillSchedules(ctx context.Context) error {
	ids, err := s.store.PipelinesWithoutSchedules(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		p, err := s.store.PipelineByID(ctx, id)
		if err != nil {
			return err
		}
		cfg, _, err := s.store.PipelineConfig(ctx, p.TeamID, p.Name, p.InstanceVars)
		if err != nil {
			return err
		}
		loaded, err := pipeline.Load(cfg, pipeline.Options{})
		if err == nil {
			var params store.SavePipelineParams
			if params, err = setpipeline.Params(loaded); err == nil {
				err = s.store.SaveSchedules(ctx, id, params.Jobs)
			}
		}
		if err != nil {
			s.log.Error("stored pipeline config does not load: its jobs will not be scheduled until it is set again",
				slog.String("pipeline", p.Name), slog.String("error", err.Error()))
		}
	}
	return nil
}

// archivedConflict answers an action on an archived pipeline as Concourse
// does: 409 with a plain-text body.
func archivedConflict(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusConflict)
	_, _ = io.WriteString(w, "action not allowed for an archived pipeline\n")
	return nil
}

// admitPipeline asks the policies in force for the team about a pipeline
// about to be saved (setpipeline.Questions).
func (s *Server) admitPipeline(r *http.Request, c *caller, t store.Team, loaded *pipeline.Pipeline) (placer.Verdict, error) {
	user := ""
	if c.claims != nil {
		user = c.claims.User
	}
	return s.cfg.Policies.Admit(r.Context(), t.ID, setpipeline.Questions(t.Name, user, r.PathValue("pipeline"), loaded))
}

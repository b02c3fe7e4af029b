package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/pipeline"
)

func (s *Server) jobFromPath(r *http.Request) (store.Pipeline, store.Job, error) {
	p, err := s.pipelineFromPath(r)
	if err != nil {
		return p, store.Job{}, err
	}
	j, err := s.store.JobByName(r.Context(), p.ID, r.PathValue("job"))
	if errors.Is(err, store.ErrNotFound) {
		return p, j, notFound("job " + r.PathValue("job"))
	}
	return p, j, err
}

// latestBuilds returns a job's oldest running build and newest finished one.
func (s *Server) latestBuilds(r *http.Request, j store.Job) (next, finished *store.Build, err error) {
	builds, err := s.store.Builds(r.Context(), store.BuildFilter{JobID: j.ID}, store.Page{Limit: 50})
	if err != nil {
		return nil, nil, err
	}
	for i := range builds {
		b := &builds[i]
		if !b.Status.Finished() {
			next = b // newest first, so the last one seen is the oldest
		} else if finished == nil {
			finished = b
		}
	}
	return next, finished, nil
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := s.pipelineFromPath(r)
	if err != nil {
		return err
	}
	jobs, err := s.store.Jobs(r.Context(), p.ID)
	if err != nil {
		return err
	}
	out := []api.JobSummary{}
	for _, j := range jobs {
		next, finished, err := s.latestBuilds(r, j)
		if err != nil {
			return err
		}
		js := api.JobSummary{ID: j.ID, Name: j.Name, TeamName: p.TeamName, PipelineID: p.ID, PipelineName: p.Name, Paused: j.Paused}
		if next != nil {
			js.NextBuild = toBuildSummary(*next)
		}
		if finished != nil {
			js.FinishedBuild = toBuildSummary(*finished)
		}
		out = append(out, js)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, j, err := s.jobFromPath(r)
	if err != nil {
		return err
	}
	next, finished, err := s.latestBuilds(r, j)
	if err != nil {
		return err
	}
	out := api.Job{ID: j.ID, Name: j.Name, TeamName: p.TeamName, PipelineID: p.ID, PipelineName: p.Name, Paused: j.Paused}
	sj, err := s.store.JobForScheduling(r.Context(), j.ID)
	if err != nil {
		return err
	}
	for _, in := range sj.Inputs {
		out.Inputs = append(out.Inputs, api.JobInput{Name: in.Name, Resource: in.Resource, Trigger: in.Trigger, Passed: in.PassedJobs})
	}
	nextInputs, err := s.store.JobNextInputs(r.Context(), j.ID)
	if err != nil {
		return err
	}
	out.HasNewInputs = nextInputs.HasNew
	if next != nil {
		b := toBuild(*next)
		out.NextBuild = &b
	}
	if finished != nil {
		b := toBuild(*finished)
		out.FinishedBuild = &b
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) pauseJob(paused bool) handler {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		_, j, err := s.jobFromPath(r)
		if err != nil {
			return err
		}
		if err := s.store.SetJobPaused(r.Context(), j.ID, paused, c.claims.User); err != nil {
			return err
		}
		s.waker.WakeScheduler()
		w.WriteHeader(http.StatusOK)
		return nil
	}
}

// trustJob marks a job's builds trusted or untrusted, which placement
// policies see as build.trusted.
func (s *Server) trustJob(trusted bool) handler {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		_, j, err := s.jobFromPath(r)
		if err != nil {
			return err
		}
		if err := s.store.SetJobTrusted(r.Context(), j.ID, trusted); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	}
}

// triggerJob creates a pending build of the job with its compiled plan; the
// engine starts it.
func (s *Server) triggerJob(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, j, err := s.jobFromPath(r)
	if err != nil {
		return err
	}
	if p.Archived {
		return archivedConflict(w)
	}
	if jobFlags(j).DisableManualTrigger {
		return errorf(http.StatusConflict, "job %s has disable_manual_trigger set", j.Name)
	}
	b, err := s.store.CreateJobBuild(r.Context(), j.ID, c.claims.User, true, nil, traceparent(r))
	if err != nil {
		return err
	}
	s.waker.WakeScheduler()
	return writeJSON(w, http.StatusOK, toBuild(b))
}

func (s *Server) listJobBuilds(w http.ResponseWriter, r *http.Request, c *caller) error {
	_, j, err := s.jobFromPath(r)
	if err != nil {
		return err
	}
	return s.listBuilds(w, r, store.BuildFilter{JobID: j.ID})
}

func (s *Server) getJobBuild(w http.ResponseWriter, r *http.Request, c *caller) error {
	b, err := s.jobBuildFromPath(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toBuild(b))
}

// jobBuildFromPath reads the path's build of the path's job.
func (s *Server) jobBuildFromPath(r *http.Request) (store.Build, error) {
	_, j, err := s.jobFromPath(r)
	if err != nil {
		return store.Build{}, err
	}
	b, err := s.store.JobBuildByName(r.Context(), j.ID, r.PathValue("build_name"))
	if errors.Is(err, store.ErrNotFound) {
		return b, notFound("build " + r.PathValue("build_name"))
	}
	return b, err
}

func (s *Server) listPipelineBuilds(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := s.pipelineFromPath(r)
	if err != nil {
		return err
	}
	return s.listBuilds(w, r, store.BuildFilter{PipelineID: p.ID})
}

func (s *Server) listTeamBuilds(w http.ResponseWriter, r *http.Request, c *caller) error {
	t, err := s.teamFromPath(r)
	if err != nil {
		return err
	}
	return s.listBuilds(w, r, store.BuildFilter{TeamIDs: []int64{t.ID}})
}

// listAllBuilds shows the builds of the teams the caller has a role on.
func (s *Server) listAllBuilds(w http.ResponseWriter, r *http.Request, c *caller) error {
	teams, err := s.store.Teams(r.Context())
	if err != nil {
		return err
	}
	ids := []int64{}
	for _, t := range teams {
		if c.role(t.Name) > 0 {
			ids = append(ids, t.ID)
		}
	}
	return s.listBuilds(w, r, store.BuildFilter{TeamIDs: ids})
}

// listBuilds answers one page of builds with Concourse's Link headers.
func (s *Server) listBuilds(w http.ResponseWriter, r *http.Request, f store.BuildFilter) error {
	pg, err := page(r)
	if err != nil {
		return err
	}
	if pg.Limit == 0 {
		pg.Limit = 100
	}
	builds, err := s.store.Builds(r.Context(), f, pg)
	if err != nil {
		return err
	}
	out := make([]api.Build, 0, len(builds))
	for _, b := range builds {
		out = append(out, toBuild(b))
	}
	if len(builds) > 0 && !pg.Timestamps { // time mode sends no links, as Concourse
		// The builds next to the page in build order: each query's second.
		base := s.externalURL(r) + r.URL.Path
		newest, oldest := builds[0].ID, builds[len(builds)-1].ID
		if older, _ := s.store.Builds(r.Context(), f, store.Page{To: oldest, Limit: 2}); len(older) > 1 {
			w.Header().Add("Link", fmt.Sprintf(`<%s?to=%d&limit=%d>; rel="next"`, base, older[1].ID, pg.Limit))
		}
		if newer, _ := s.store.Builds(r.Context(), f, store.Page{From: newest, Limit: 2}); len(newer) > 1 {
			w.Header().Add("Link", fmt.Sprintf(`<%s?from=%d&limit=%d>; rel="previous"`, base, newer[0].ID, pg.Limit))
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) buildFromPath(r *http.Request) (store.Build, error) {
	id, err := strconv.ParseInt(r.PathValue("build"), 10, 64)
	if err != nil {
		return store.Build{}, errorf(http.StatusBadRequest, "build id must be a number")
	}
	b, err := s.store.Build(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return b, notFound("build " + r.PathValue("build"))
	}
	return b, err
}

// buildPlan is the build's plan as Concourse shows it: no sources, params
// or vars (pipeline.Public). A job build that has not started has none.
func (s *Server) buildPlan(w http.ResponseWriter, r *http.Request, c *caller) error {
	b, err := s.buildFromPath(r)
	if err != nil {
		return err
	}
	var plan pipeline.Plan
	if len(b.Plan) == 0 || json.Unmarshal(b.Plan, &plan) != nil || plan.ID == "" {
		return notFound("plan of build " + r.PathValue("build"))
	}
	return writeJSON(w, http.StatusOK, api.PublicBuildPlan{Schema: "exec.v2", Plan: pipeline.Public(plan)})
}

func (s *Server) getBuild(w http.ResponseWriter, r *http.Request, c *caller) error {
	b, err := s.buildFromPath(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toBuild(b))
}

func (s *Server) abortBuild(w http.ResponseWriter, r *http.Request, c *caller) error {
	b, err := s.buildFromPath(r)
	if err != nil {
		return err
	}
	if err := s.store.RequestAbort(r.Context(), b.ID); err != nil {
		return err
	}
	s.waker.WakeAbort(b.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// setBuildComment sets a build's comment: {"comment":"…"}, at most
// maxBuildComment bytes.
func (s *Server) setBuildComment(w http.ResponseWriter, r *http.Request, c *caller) error {
	b, err := s.buildFromPath(r)
	if err != nil {
		return err
	}
	var body struct {
		Comment *string `json:"comment"`
	}
	if err := readJSON(r, 2*maxBuildComment, &body); err != nil {
		return err
	}
	switch {
	case body.Comment == nil:
		return errorf(http.StatusBadRequest, `give the comment as {"comment": "..."}`)
	case len(*body.Comment) > maxBuildComment:
		return errorf(http.StatusBadRequest, "comment: at most %d bytes", maxBuildComment)
	}
	if err := s.store.SetBuildComment(r.Context(), b.ID, *body.Comment); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// maxBuildComment bounds a build's comment.
const maxBuildComment = 10 << 10

// scheduleJob asks for the job to be scheduled now (fly schedule-job).
func (s *Server) scheduleJob(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, j, err := s.jobFromPath(r)
	if err != nil {
		return err
	}
	if p.Archived {
		return archivedConflict(w)
	}
	if err := s.store.RequestSchedule(r.Context(), j.ID); err != nil {
		return err
	}
	s.waker.WakeScheduler()
	w.WriteHeader(http.StatusOK)
	return nil
}

// rerunBuild creates a rerun of a build: the same inputs, ordered as the
// original by the algorithm.
func (s *Server) rerunBuild(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, j, err := s.jobFromPath(r)
	if err != nil {
		return err
	}
	if p.Archived {
		return archivedConflict(w)
	}
	if jobFlags(j).DisableReruns {
		return errorf(http.StatusConflict, "job %s has disable_reruns set", j.Name)
	}
	orig, err := s.store.JobBuildByName(r.Context(), j.ID, r.PathValue("build_name"))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("build " + r.PathValue("build_name"))
	}
	if err != nil {
		return err
	}
	b, err := s.store.CreateRerun(r.Context(), orig, c.claims.User, traceparent(r))
	if errors.Is(err, store.ErrNoInputs) {
		return errorf(http.StatusInternalServerError, "build %s of job %s never got its inputs, so it cannot be rerun: trigger the job instead", orig.Name, j.Name)
	}
	if err != nil {
		return err
	}
	s.waker.WakeScheduler()
	return writeJSON(w, http.StatusOK, toBuild(b))
}

// jobInputs answers the inputs the job's next build would get; 404 while they
// are not all resolved, with the reasons.
func (s *Server) jobInputs(w http.ResponseWriter, r *http.Request, c *caller) error {
	_, j, err := s.jobFromPath(r)
	if err != nil {
		return err
	}
	next, err := s.store.JobNextInputs(r.Context(), j.ID)
	if err != nil {
		return err
	}
	if !next.Determined {
		if !next.Resolved {
			return notFound("inputs of job " + j.Name + " (not resolved yet)")
		}
		return errorf(http.StatusNotFound, "inputs of job %s do not resolve: %s", j.Name, describeInputErrors(next.Errors))
	}
	out := []api.BuildInput{}
	for _, in := range next.Inputs {
		var cfg struct {
			Source map[string]any `json:"source"`
			Tags   []string       `json:"tags"`
		}
		_ = json.Unmarshal(in.Resource.Config, &cfg)
		out = append(out, api.BuildInput{Name: in.Name, Resource: in.Resource.Name, Type: in.Resource.Type, Source: cfg.Source,
			Version: in.Version, Tags: cfg.Tags})
	}
	return writeJSON(w, http.StatusOK, out)
}

// describeInputErrors lists input errors in input order: "input repo: reason (detail)".
func describeInputErrors(errs map[string]store.InputError) string {
	names := make([]string, 0, len(errs))
	for n := range errs {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = "input " + n + ": " + errs[n].Reason
		if errs[n].Detail != "" {
			parts[i] += " (" + errs[n].Detail + ")"
		}
	}
	return strings.Join(parts, "; ")
}

// buildPreparation says what holds a pending build back.
func (s *Server) buildPreparation(w http.ResponseWriter, r *http.Request, c *caller) error {
	b, err := s.buildFromPath(r)
	if err != nil {
		return err
	}
	out := api.BuildPreparation{BuildID: b.ID, PausedPipeline: api.PrepNotBlocking, PausedJob: api.PrepNotBlocking,
		MaxRunningBuilds: api.PrepNotBlocking, Inputs: map[string]string{}, InputsSatisfied: api.PrepNotBlocking,
		MissingInputReasons: map[string]string{}}
	if b.JobID == 0 || b.Status != api.BuildPending {
		return writeJSON(w, http.StatusOK, out)
	}
	p, err := s.store.BuildPreparation(r.Context(), b)
	if err != nil {
		return err
	}
	blocking := func(yes bool) string {
		if yes {
			return api.PrepBlocking
		}
		return api.PrepNotBlocking
	}
	out.PausedPipeline = blocking(p.PipelinePaused)
	out.PausedJob = blocking(p.JobPaused)
	out.MaxRunningBuilds = blocking(!p.Scheduled && p.MaxInFlight > 0 && p.Running >= p.MaxInFlight)
	for _, name := range p.Inputs {
		e, missing := p.Next.Errors[name]
		switch {
		case b.RerunOf != 0 || p.Scheduled:
			out.Inputs[name] = api.PrepNotBlocking
		case !p.Next.Resolved:
			out.Inputs[name] = api.PrepUnknown
		case missing:
			out.Inputs[name] = api.PrepBlocking
			out.MissingInputReasons[name] = e.Reason
			if e.Detail != "" {
				if out.MissingInputDetails == nil {
					out.MissingInputDetails = map[string]string{}
				}
				out.MissingInputDetails[name] = e.Detail
			}
		default:
			out.Inputs[name] = api.PrepNotBlocking
		}
	}
	switch {
	case len(out.MissingInputReasons) > 0:
		out.InputsSatisfied = api.PrepBlocking
	case !p.Next.Resolved && !p.Scheduled:
		out.InputsSatisfied = api.PrepUnknown
	}
	return writeJSON(w, http.StatusOK, out)
}

// buildResources answers what a build got and put.
func (s *Server) buildResources(w http.ResponseWriter, r *http.Request, c *caller) error {
	b, err := s.buildFromPath(r)
	if err != nil {
		return err
	}
	io, err := s.store.BuildResources(r.Context(), b.ID)
	if err != nil {
		return err
	}
	out := api.BuildInputsOutputs{Inputs: []api.PublicBuildInput{}, Outputs: []api.PublicBuildOutput{}}
	for _, in := range io.Inputs {
		out.Inputs = append(out.Inputs, api.PublicBuildInput{Name: in.Name, Version: in.Version, PipelineID: b.PipelineID, FirstOccurrence: in.FirstOccurrence})
	}
	for _, o := range io.Outputs {
		out.Outputs = append(out.Outputs, api.PublicBuildOutput{Name: o.Resource, Version: o.Version})
	}
	return writeJSON(w, http.StatusOK, out)
}

// jobFlags reads the switches of a job's stored config.
func jobFlags(j store.Job) (out struct {
	DisableManualTrigger bool `json:"disable_manual_trigger"`
	DisableReruns        bool `json:"disable_reruns"`
}) {
	_ = json.Unmarshal(j.Config, &out)
	return out
}

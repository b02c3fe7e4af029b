package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/intercept"
	"github.com/switchyard-ci/switchyard/hub/notify"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/wire"
)

// fly intercept: the user's side (package intercept says how a session works).

func toContainer(c store.Container) api.Container {
	state := "created"
	if c.Failed {
		state = "failed"
	}
	return api.Container{ID: strconv.FormatInt(c.StepID, 10), WorkerName: c.SpokeName, State: state, Type: string(c.Kind),
		StepName: c.StepName, Attempt: strconv.Itoa(c.Attempt), PipelineID: c.PipelineID, JobID: c.JobID, BuildID: c.BuildID,
		ResourceID: c.ResourceID, PipelineName: c.PipelineName, JobName: c.JobName, BuildName: c.BuildName, ResourceName: c.ResourceName}
}

// containerFilters are the query keys fly filters containers with, and the
// field each matches.
var containerFilters = map[string]func(api.Container) string{
	"type": func(c api.Container) string { return c.Type }, "step_name": func(c api.Container) string { return c.StepName },
	"attempt": func(c api.Container) string { return c.Attempt }, "pipeline_name": func(c api.Container) string { return c.PipelineName },
	"job_name": func(c api.Container) string { return c.JobName }, "build_name": func(c api.Container) string { return c.BuildName },
	"resource_name": func(c api.Container) string { return c.ResourceName },
	"pipeline_id":   func(c api.Container) string { return strconv.FormatInt(c.PipelineID, 10) },
	"job_id":        func(c api.Container) string { return strconv.FormatInt(c.JobID, 10) },
	"build_id":      func(c api.Container) string { return strconv.FormatInt(c.BuildID, 10) },
}

// listContainers answers GET /teams/T/containers: the team's running steps,
// filtered by fly's exact-match query keys.
func (s *Server) listContainers(w http.ResponseWriter, r *http.Request, _ *caller) error {
	t, err := s.teamFromPath(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	for _, key := range []string{"pipeline_id", "job_id", "build_id"} {
		if v := q.Get(key); v != "" {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return errorf(http.StatusBadRequest, "%s must be a number, not %q", key, v)
			}
		}
	}
	list, err := s.store.Containers(r.Context(), t.ID, wire.KeepFailed)
	if err != nil {
		return err
	}
	out := []api.Container{}
next:
	for _, c := range list {
		ac := toContainer(c)
		for key, field := range containerFilters {
			if v, ok := q[key]; ok && field(ac) != v[0] {
				continue next
			}
		}
		out = append(out, ac)
	}
	return writeJSON(w, http.StatusOK, out)
}

// teamContainer is the running step a path's handle names, if it is the
// team's.
func (s *Server) teamContainer(r *http.Request) (store.Container, error) {
	t, err := s.teamFromPath(r)
	if err != nil {
		return store.Container{}, err
	}
	id, err := strconv.ParseInt(r.PathValue("handle"), 10, 64)
	if err != nil {
		return store.Container{}, notFound("container " + r.PathValue("handle"))
	}
	c, err := s.store.Container(r.Context(), id, wire.KeepFailed)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.TeamID != t.ID) {
		return c, notFound("container " + r.PathValue("handle"))
	}
	return c, err
}

func (s *Server) getContainer(w http.ResponseWriter, r *http.Request, _ *caller) error {
	c, err := s.teamContainer(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toContainer(c))
}

// hijackContainer is fly intercept's websocket: it waits for the step's spoke
// to dial back and relays between the two.
func (s *Server) hijackContainer(w http.ResponseWriter, r *http.Request, c *caller) error {
	ct, err := s.teamContainer(r)
	if err != nil {
		return err
	}
	if ct.Kind == wire.KindCheck && !c.admin {
		return errorf(http.StatusForbidden, "only admins may intercept check containers")
	}
	id, err := s.store.CreateIntercept(r.Context(), ct.StepID, ct.SpokeID)
	if err != nil {
		return err
	}
	dialed := s.intercepts.Open(id)
	defer s.intercepts.Close(id)
	fly, err := intercept.Upgrader.Upgrade(w, r, nil)
	if err != nil {
		return nil // the upgrader answered
	}
	defer fly.Close()
	s.notify.Notify(notify.SpokeKey(ct.SpokeID))
	select {
	case spoke := <-dialed:
		defer spoke.Close()
		intercept.Relay(fly, spoke)
	case <-time.After(intercept.Dial):
		intercept.SendError(fly, fmt.Sprintf("spoke %s did not connect for the intercept within %s: is it running, and does it reach this hub replica?", ct.SpokeName, intercept.Dial))
	case <-r.Context().Done():
	}
	return nil
}

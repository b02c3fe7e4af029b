package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/checker"
	"github.com/switchyard-ci/switchyard/hub/store"
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
	req, err := checkRequest(r)
	if err != nil {
		return err
	}
	res, err := s.resourceFromPath(r)
	if err != nil {
		return err
	}
	return s.startCheck(w, r, res, req.From, c.claims.User)
}

// checkRequest reads the body of a manual check (fly check-resource -f),
// which may be empty.
func checkRequest(r *http.Request) (api.CheckRequest, error) {
	var req api.CheckRequest
	if r.ContentLength != 0 {
		if err := readJSON(r, 64<<10, &req); err != nil {
			return req, err
		}
	}
	return req, nil
}

func (s *Server) startCheck(w http.ResponseWriter, r *http.Request, res store.Resource, from map[string]string, by string) error {
	plan, err := checker.Plan(r.Context(), s.store, res, from)
	if err != nil {
		return err
	}
	b, err := s.store.CreateCheckBuild(r.Context(), res.ID, by, plan)
	if err != nil {
		return err
	}
	s.waker.Wake(b.ID)
	return writeJSON(w, http.StatusCreated, toBuild(b))
}

// checkWebhook starts a check for whoever knows the resource's webhook_token
// (a code host's push hook): no user token is needed.
func (s *Server) checkWebhook(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := s.pipelineFromPath(r)
	if err != nil {
		return err
	}
	res, err := s.resourceFromPath(r)
	if err != nil {
		return err
	}
	want, err := s.store.ResourceWebhookToken(r.Context(), res.ID)
	if err != nil {
		return err
	}
	if strings.Contains(want, "((") {
		// A token kept as a secret is resolved at the call, as Concourse
		// does; one that resolves from nothing lets no call in.
		if want, err = s.webhookToken(r.Context(), p, want); err != nil {
			s.log.Warn("resolve a webhook token", slog.String("resource", res.Name), slog.String("error", err.Error()))
			want = ""
		}
	}
	got := r.URL.Query().Get("webhook_token")
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errorf(http.StatusUnauthorized, "invalid webhook_token for resource %s", res.Name)
	}
	return s.startCheck(w, r, res, nil, "webhook")
}

func toResource(p store.Pipeline, res store.Resource, st store.ResourceState) api.Resource {
	out := api.Resource{Name: res.Name, PipelineID: p.ID, PipelineName: p.Name, TeamName: p.TeamName, Type: res.Type,
		PinnedVersion: st.PinnedVersion, PinnedInConfig: st.PinnedInConfig, PinComment: st.PinComment}
	if st.LastChecked != nil {
		out.LastChecked = st.LastChecked.Unix()
	}
	if b := st.CheckBuild; b != nil {
		b.TeamName, b.PipelineID, b.PipelineName = p.TeamName, p.ID, p.Name
		out.Build = toBuildSummary(*b)
	}
	return out
}

// listResourceTypes answers a pipeline's resource types, with their sources
// (for team members: fly execute -j builds its gets with them).
func (s *Server) listResourceTypes(w http.ResponseWriter, r *http.Request, c *caller) error {
	types, err := s.resourceTypes(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, types)
}

// resourceTypes reads the resource types of the path's pipeline from its
// config.
func (s *Server) resourceTypes(r *http.Request) ([]api.ResourceType, error) {
	p, err := s.pipelineFromPath(r)
	if err != nil {
		return nil, err
	}
	raw, _, err := s.store.PipelineConfig(r.Context(), p.TeamID, p.Name, p.InstanceVars)
	if err != nil {
		return nil, err
	}
	var cfg struct {
		ResourceTypes []api.ResourceType `json:"resource_types"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("pipeline %s: stored config: %w", p.Name, err)
	}
	if cfg.ResourceTypes == nil {
		cfg.ResourceTypes = []api.ResourceType{}
	}
	return cfg.ResourceTypes, nil
}

func (s *Server) listResources(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := s.pipelineFromPath(r)
	if err != nil {
		return err
	}
	rs, states, err := s.resourcesWithStates(r.Context(), p.ID)
	if err != nil {
		return err
	}
	out := []api.Resource{}
	for _, res := range rs {
		out = append(out, toResource(p, res, states[res.ID]))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) getResource(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, res, st, err := s.resourceStateFromPath(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toResource(p, res, st))
}

// resourcesWithStates reads a pipeline's resources and the state of each
// (pins, the last check), by resource id.
func (s *Server) resourcesWithStates(ctx context.Context, pipelineID int64) ([]store.Resource, map[int64]store.ResourceState, error) {
	rs, err := s.store.Resources(ctx, pipelineID)
	if err != nil {
		return nil, nil, err
	}
	states, err := s.store.ResourceStates(ctx, pipelineID)
	return rs, states, err
}

// resourceStateFromPath reads the path's pipeline and resource with the
// resource's state.
func (s *Server) resourceStateFromPath(r *http.Request) (store.Pipeline, store.Resource, store.ResourceState, error) {
	p, err := s.pipelineFromPath(r)
	if err != nil {
		return p, store.Resource{}, store.ResourceState{}, err
	}
	res, err := s.resourceFromPath(r)
	if err != nil {
		return p, res, store.ResourceState{}, err
	}
	states, err := s.store.ResourceStates(r.Context(), p.ID)
	return p, res, states[res.ID], err
}

// listVersions answers one page of versions, newest first by check order,
// filtered by filter=k:v, with Link headers to the pages around it.
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
	filter := map[string]string{}
	for _, f := range r.URL.Query()["filter"] {
		k, v, ok := strings.Cut(f, ":")
		if !ok {
			return errorf(http.StatusBadRequest, "filter %q: write it as key:value", f)
		}
		filter[k] = v
	}
	vs, err := s.store.VersionPage(r.Context(), res.ID, pg, filter)
	if err != nil {
		return err
	}
	out := []api.ResourceVersion{}
	for _, v := range vs {
		out = append(out, toVersion(v))
	}
	base := s.externalURL(r) + r.URL.Path
	older, newer := s.versionPages(r, res.ID, vs, filter)
	if older > 0 {
		w.Header().Add("Link", fmt.Sprintf(`<%s?to=%d&limit=%d>; rel="next"`, base, older, pg.Limit))
	}
	if newer > 0 {
		w.Header().Add("Link", fmt.Sprintf(`<%s?from=%d&limit=%d>; rel="previous"`, base, newer, pg.Limit))
	}
	return writeJSON(w, http.StatusOK, out)
}

// versionPages are where the pages before and after a page of versions
// start (the to= of the older page, the from= of the newer), 0 where
// there is none.
func (s *Server) versionPages(r *http.Request, resourceID int64, vs []store.Version, filter map[string]string) (older, newer int64) {
	if len(vs) == 0 {
		return 0, 0
	}
	if o, _ := s.store.VersionPage(r.Context(), resourceID, store.Page{To: vs[len(vs)-1].ID, Limit: 2}, filter); len(o) > 1 {
		older = o[1].ID
	}
	if n, _ := s.store.VersionPage(r.Context(), resourceID, store.Page{From: vs[0].ID, Limit: 2}, filter); len(n) > 1 {
		newer = n[0].ID
	}
	return older, newer
}

func toVersion(v store.Version) api.ResourceVersion {
	out := api.ResourceVersion{ID: v.ID, Version: v.Version, Enabled: !v.Disabled}
	_ = json.Unmarshal(v.Metadata, &out.Metadata)
	return out
}

func versionFromPath(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("version"), 10, 64)
	if err != nil {
		return 0, errorf(http.StatusBadRequest, "version id must be a number")
	}
	return id, nil
}

// changeResource applies a pin or version change to the resource of the path;
// archived pipelines refuse it.
func (s *Server) changeResource(change func(r *http.Request, res store.Resource) error) handler {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		p, err := s.pipelineFromPath(r)
		if err != nil {
			return err
		}
		if p.Archived {
			return archivedConflict(w)
		}
		res, err := s.resourceFromPath(r)
		if err != nil {
			return err
		}
		err = change(r, res)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return notFound("version " + r.PathValue("version"))
		case errors.Is(err, store.ErrPinnedInConfig):
			return errorf(http.StatusInternalServerError, "%s", err.Error())
		case err != nil:
			return err
		}
		s.waker.WakeScheduler()
		w.WriteHeader(http.StatusOK)
		return nil
	}
}

func (s *Server) pinVersion(r *http.Request, res store.Resource) error {
	id, err := versionFromPath(r)
	if err != nil {
		return err
	}
	return s.store.PinVersion(r.Context(), res.ID, id)
}

func (s *Server) unpinResource(r *http.Request, res store.Resource) error {
	return s.store.UnpinResource(r.Context(), res.ID)
}

func (s *Server) setPinComment(r *http.Request, res store.Resource) error {
	var body api.PinComment
	if err := readJSON(r, 64<<10, &body); err != nil {
		return err
	}
	return s.store.SetPinComment(r.Context(), res.ID, body.PinComment)
}

func (s *Server) enableVersion(enabled bool) func(r *http.Request, res store.Resource) error {
	return func(r *http.Request, res store.Resource) error {
		id, err := versionFromPath(r)
		if err != nil {
			return err
		}
		return s.store.SetVersionEnabled(r.Context(), res.ID, id, enabled)
	}
}

// clearVersions deletes a resource's versions (fly clear-versions
// --resource); its next check starts its history again.
func (s *Server) clearVersions(w http.ResponseWriter, r *http.Request, c *caller) error {
	res, err := s.resourceFromPath(r)
	if err != nil {
		return err
	}
	n, err := s.store.ClearVersions(r.Context(), res.ID)
	if err != nil {
		return err
	}
	s.log.Info("versions cleared", "resource", res.Name, "pipeline", r.PathValue("pipeline"), "team", r.PathValue("team"), "versions", n, "by", c.claims.User)
	s.waker.WakeScheduler()
	return writeJSON(w, http.StatusOK, api.VersionsRemoved{VersionsRemoved: n})
}

// clearTypeVersions answers fly clear-versions --resource-type: the type's
// versions go, so the next build that uses it checks it again.
func (s *Server) clearTypeVersions(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := s.pipelineFromPath(r)
	if err != nil {
		return err
	}
	name, err := s.resourceTypeFromPath(r)
	if err != nil {
		return err
	}
	n, err := s.store.ClearTypeVersions(r.Context(), p.ID, name)
	if err != nil {
		return err
	}
	s.log.Info("versions cleared", "resource_type", name, "pipeline", p.Name, "team", r.PathValue("team"), "versions", n, "by", c.claims.User)
	return writeJSON(w, http.StatusOK, api.VersionsRemoved{VersionsRemoved: n})
}

// checkResourceType starts a check build of a custom type (fly
// check-resource-type); the versions it finds are the ones the next builds
// that use the type run.
func (s *Server) checkResourceType(w http.ResponseWriter, r *http.Request, c *caller) error {
	req, err := checkRequest(r)
	if err != nil {
		return err
	}
	p, err := s.pipelineFromPath(r)
	if err != nil {
		return err
	}
	// TypePlan reads the pipeline's types, and finds this one or says not found.
	name := r.PathValue("resource_type")
	plan, err := checker.TypePlan(r.Context(), s.store, p.ID, name, req.From)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("resource type " + name)
	}
	if err != nil {
		return err
	}
	b, err := s.store.CreateTypeCheckBuild(r.Context(), p.ID, name, c.claims.User, plan)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("resource type " + name)
	}
	if err != nil {
		return err
	}
	s.waker.Wake(b.ID)
	return writeJSON(w, http.StatusCreated, toBuild(b))
}

// sharedVersions says what shares a resource's version history: here each
// resource has its own, so only the resource itself.
func (s *Server) sharedVersions(w http.ResponseWriter, r *http.Request, c *caller) error {
	res, err := s.resourceFromPath(r)
	if err != nil {
		return err
	}
	id := api.ResourceIdentifier{Name: res.Name, PipelineName: r.PathValue("pipeline"), TeamName: r.PathValue("team")}
	return writeJSON(w, http.StatusOK, api.SharedVersions{Resources: []api.ResourceIdentifier{id}, ResourceTypes: []api.ResourceIdentifier{}})
}

// sharedTypeVersions is sharedVersions for a resource type.
func (s *Server) sharedTypeVersions(w http.ResponseWriter, r *http.Request, c *caller) error {
	name, err := s.resourceTypeFromPath(r)
	if err != nil {
		return err
	}
	id := api.ResourceIdentifier{Name: name, PipelineName: r.PathValue("pipeline"), TeamName: r.PathValue("team")}
	return writeJSON(w, http.StatusOK, api.SharedVersions{Resources: []api.ResourceIdentifier{}, ResourceTypes: []api.ResourceIdentifier{id}})
}

// resourceTypeFromPath finds the path's resource type in its pipeline's
// config.
func (s *Server) resourceTypeFromPath(r *http.Request) (string, error) {
	types, err := s.resourceTypes(r)
	if err != nil {
		return "", err
	}
	for _, rt := range types {
		if rt.Name == r.PathValue("resource_type") {
			return rt.Name, nil
		}
	}
	return "", notFound("resource type " + r.PathValue("resource_type"))
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
		wk := api.Worker{Name: sp.Name, Team: sp.TeamName, Platform: "linux", Tags: append([]string{}, sp.Tags...), Version: api.WorkerVersion,
			State: sp.WorkerState(), ResourceTypes: []api.WorkerResourceType{}}
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

// versionBuilds answers the builds that took the path's version as an
// input (input_to), or with outputs those that put it (output_of).
func (s *Server) versionBuilds(outputs bool) handler {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		res, err := s.resourceFromPath(r)
		if err != nil {
			return err
		}
		id, err := versionFromPath(r)
		if err != nil {
			return err
		}
		bs, err := s.store.VersionBuilds(r.Context(), res.ID, id, outputs)
		if err != nil {
			return err
		}
		out := []api.Build{}
		for _, b := range bs {
			out = append(out, toBuild(b))
		}
		return writeJSON(w, http.StatusOK, out)
	}
}

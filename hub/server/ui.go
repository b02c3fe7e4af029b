package server

import (
	"cmp"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/auth"
	"github.com/switchyard-ci/switchyard/hub/httpapi"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/web"
	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/placement"
)

// The web UI's pages (hub/web renders them), at Concourse's URLs, behind
// the routes' access: a page a caller may not see asks them to sign in.

// pageOf is the layout's part of a page for the caller.
func pageOf(r *http.Request, c *caller, title string) web.Page {
	p := web.Page{Title: title, Path: r.URL.RequestURI()}
	if c != nil && c.claims != nil {
		p.User = c.claims.User
	}
	if ck, err := r.Cookie(csrfCookie); err == nil {
		p.CSRF = ck.Value
	}
	return p
}

// render writes a page, gzipped for a browser that takes it (a dashboard
// of thousands of jobs is a few hundred KiB of HTML, a tenth of that
// compressed).
func render(w http.ResponseWriter, r *http.Request, status int, name string, data any) error {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	h.Add("Vary", "Accept-Encoding")
	if !acceptsGzip(r) {
		w.WriteHeader(status)
		return web.Render(w, name, data)
	}
	h.Set("Content-Encoding", "gzip")
	w.WriteHeader(status)
	zw := gzip.NewWriter(w)
	if err := web.Render(zw, name, data); err != nil {
		_ = zw.Close()
		return err
	}
	return zw.Close()
}

// acceptsGzip tells whether the request's Accept-Encoding takes gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") && strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// pageError shows an error as a page; a caller who must sign in is sent to
// the sign-in page, and back here after.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, c *caller, err error) {
	var he *httpapi.Error
	status, msg := http.StatusInternalServerError, "Something went wrong: "+err.Error()
	switch {
	case errors.As(err, &he):
		status, msg = he.Status, he.Msg
	case errors.Is(err, store.ErrNotFound):
		status, msg = http.StatusNotFound, err.Error()
	default:
		s.log.ErrorContext(r.Context(), "page failed", "path", r.URL.Path, "error", err.Error())
	}
	if status == http.StatusUnauthorized {
		// No body: it would only repeat the path.
		w.Header().Set("Location", "/login?redirect_uri="+url.QueryEscape(r.URL.RequestURI()))
		w.WriteHeader(http.StatusFound)
		return
	}
	title := http.StatusText(status)
	_ = render(w, r, status, "error", struct {
		web.Page
		Message string
	}{pageOf(r, c, title), msg})
}

// jobView is a job with its latest builds' state.
type jobView struct {
	Name    string `json:"name"`
	URL     string `json:"url"`
	Status  string `json:"status"`
	Running bool   `json:"running"`
}

// jobViews reads the jobs of the pipelines with their latest builds, in
// one query, by pipeline.
func (s *Server) jobViews(r *http.Request, ps ...store.Pipeline) (map[int64][]jobView, error) {
	ids := make([]int64, 0, len(ps))
	byID := map[int64]store.Pipeline{}
	for _, p := range ps {
		ids = append(ids, p.ID)
		byID[p.ID] = p
	}
	states, err := s.store.JobStates(r.Context(), ids)
	if err != nil {
		return nil, err
	}
	out := map[int64][]jobView{}
	for _, j := range states {
		v := jobView{Name: j.Name, URL: jobURL(byID[j.PipelineID], j.Name), Status: cmp.Or(string(j.Finished), "no-builds"), Running: j.Running}
		if j.Paused {
			v.Status = "paused"
		}
		out[j.PipelineID] = append(out[j.PipelineID], v)
	}
	return out, nil
}

// jobURL is a job's page; an instanced pipeline's vars follow the path.
func jobURL(p store.Pipeline, job string) string {
	base, vars, _ := strings.Cut(pipelineURL(p), "?")
	u := base + "/jobs/" + url.PathEscape(job)
	if vars != "" {
		u += "?" + vars
	}
	return u
}

func pipelineURL(p store.Pipeline) string {
	u := "/teams/" + url.PathEscape(p.TeamName) + "/pipelines/" + url.PathEscape(p.Name)
	if p.InstanceVars != "" && p.InstanceVars != "{}" {
		u += "?vars=" + url.QueryEscape(p.InstanceVars)
	}
	return u
}

// pipelineStatus is a pipeline's status on the dashboard: the worst of its
// jobs' latest builds.
func pipelineStatus(jobs []jobView) string {
	rank := map[string]int{"no-builds": 0, "paused": 0, "succeeded": 1, "aborted": 2, "errored": 3, "failed": 4}
	status := "no-builds"
	for _, j := range jobs {
		if rank[j.Status] > rank[status] {
			status = j.Status
		}
	}
	for _, j := range jobs {
		if j.Running {
			return status + " running"
		}
	}
	return status
}

func (s *Server) dashboardPage(w http.ResponseWriter, r *http.Request, c *caller) error {
	type pipelineView struct {
		ID                              int64
		Name, URL, Status, InstanceVars string
		Paused                          bool
		Jobs                            []jobView
	}
	type teamView struct {
		Name      string
		Pipelines []pipelineView
	}
	search := strings.TrimSpace(r.URL.Query().Get("search"))
	all := r.URL.Query().Get("view") == "all"
	ps, err := s.store.Pipelines(r.Context(), 0)
	if err != nil {
		return err
	}
	var visible []store.Pipeline
	for _, p := range ps {
		if (p.Public || c.role(p.TeamName) > 0) && (!p.Archived || all) {
			visible = append(visible, p)
		}
	}
	jobsOf, err := s.jobViews(r, visible...)
	if err != nil {
		return err
	}
	var teams []teamView
	for _, p := range visible {
		jobs := jobsOf[p.ID]
		v := pipelineView{ID: p.ID, Name: p.Name, URL: pipelineURL(p), Status: pipelineStatus(jobs), Paused: p.Paused, Jobs: jobs}
		if p.InstanceVars != "{}" {
			v.InstanceVars = p.InstanceVars
		}
		if !matches(search, p.TeamName, p.Name, v.Status) {
			continue
		}
		if len(teams) == 0 || teams[len(teams)-1].Name != p.TeamName {
			teams = append(teams, teamView{Name: p.TeamName})
		}
		teams[len(teams)-1].Pipelines = append(teams[len(teams)-1].Pipelines, v)
	}
	sort.SliceStable(teams, func(i, j int) bool { return teams[i].Name < teams[j].Name })
	return render(w, r, http.StatusOK, "dashboard", struct {
		web.Page
		Search, Since string
		Teams         []teamView
	}{pageOf(r, c, "Pipelines"), search, since(), teams})
}

// matches is the dashboard's search: words that all hold, each a
// pipeline's name part, team:NAME or status:STATUS.
func matches(search, team, name, status string) bool {
	for _, word := range strings.Fields(search) {
		switch k, v, _ := strings.Cut(word, ":"); k {
		case "team":
			if !strings.EqualFold(team, v) {
				return false
			}
		case "status":
			if !strings.Contains(status, strings.ToLower(v)) {
				return false
			}
		default:
			if !strings.Contains(strings.ToLower(name), strings.ToLower(word)) {
				return false
			}
		}
	}
	return true
}

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
	rs, err := s.store.Resources(r.Context(), p.ID)
	if err != nil {
		return err
	}
	states, err := s.store.ResourceStates(r.Context(), p.ID)
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
	var graphJobs []web.GraphJob
	if cfg != nil {
		for i := range cfg.Jobs {
			j := &cfg.Jobs[i]
			if len(groups) > 0 && !show[j.Name] {
				continue
			}
			v := byName[j.Name]
			gj := web.GraphJob{Name: j.Name, URL: v.URL, Status: v.Status, Running: v.Running, Outputs: j.Outputs()}
			for _, in := range j.Inputs() {
				gj.Inputs = append(gj.Inputs, web.GraphInput{Resource: in.Resource, Passed: in.Passed, Trigger: in.Trigger})
			}
			graphJobs = append(graphJobs, gj)
		}
	}
	return render(w, r, http.StatusOK, "pipeline", struct {
		web.Page
		Team, Name, API, Since string
		ID                     int64
		Paused                 bool
		CanOperate             bool
		Groups                 []groupView
		Graph                  web.Graph
		Jobs                   []jobView
		Resources              []resourceView
	}{pageOf(r, c, p.Name), p.TeamName, p.Name, pipelineAPI(p), since(), p.ID, p.Paused, c.role(p.TeamName) >= auth.PipelineOperator,
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
	if p.InstanceVars != "" && p.InstanceVars != "{}" {
		u += "?vars=" + url.QueryEscape(p.InstanceVars)
	}
	return u
}

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
		Pipeline, PipelineURL, Name, API string
		Paused, CanOperate               bool
		Builds                           []buildRow
	}{pageOf(r, c, j.Name), p.Name, pipelineURL(p), j.Name, pipelineAPI(p, "/jobs/", url.PathEscape(j.Name)),
		j.Paused, c.role(p.TeamName) >= auth.PipelineOperator, rows})
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
		JobURL, RerunURL                         string
		Start, End                               *time.Time
		Done, CanOperate                         bool
		Steps                                    []stepView
	}{Page: pageOf(r, c, "build "+b.Name), ID: b.ID, Name: b.Name, Status: string(b.Status), Start: b.StartTime, End: b.EndTime,
		Done: b.Status != api.BuildPending && b.Status != api.BuildStarted, CanOperate: c.role(b.TeamName) >= auth.PipelineOperator, Steps: steps}
	if b.JobID != 0 {
		p := store.Pipeline{TeamName: b.TeamName, Name: b.PipelineName, InstanceVars: b.InstanceVars}
		view.Pipeline, view.PipelineURL, view.Job = b.PipelineName, pipelineURL(p), b.JobName
		view.JobURL = jobURL(p, b.JobName)
		view.RerunURL = pipelineAPI(p, "/jobs/", url.PathEscape(b.JobName), "/builds/", url.PathEscape(b.Name))
	}
	return render(w, r, http.StatusOK, "build", view)
}

func (s *Server) resourcePage(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, res, st, err := s.resourceStateFromPath(r)
	if err != nil {
		return err
	}
	vs, err := s.store.VersionPage(r.Context(), res.ID, store.Page{Limit: 100}, nil)
	if err != nil {
		return err
	}
	type versionView struct {
		ID              int64
		Text            string
		Enabled, Pinned bool
	}
	text := func(v map[string]string) string {
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, k+": "+v[k])
		}
		return strings.Join(parts, ", ")
	}
	pinned := ""
	if st.PinnedVersion != nil {
		pinned = text(st.PinnedVersion)
	}
	var versions []versionView
	for _, v := range vs {
		t := text(v.Version)
		versions = append(versions, versionView{ID: v.ID, Text: t, Enabled: !v.Disabled, Pinned: pinned != "" && t == pinned})
	}
	checkError := ""
	if b := st.CheckBuild; b != nil && (b.Status == api.BuildErrored || b.Status == api.BuildFailed) {
		checkError = "the check build " + strconv.FormatInt(b.ID, 10) + " " + string(b.Status)
	}
	return render(w, r, http.StatusOK, "resource", struct {
		web.Page
		Pipeline, PipelineURL, Name, Type, API string
		PinnedVersion, PinComment, CheckError  string
		CanOperate                             bool
		Versions                               []versionView
	}{pageOf(r, c, res.Name), p.Name, pipelineURL(p), res.Name, res.Type, pipelineAPI(p, "/resources/", url.PathEscape(res.Name)),
		pinned, st.PinComment, checkError, c.role(p.TeamName) >= auth.PipelineOperator, versions})
}

// fleetPage lists the spokes the caller may see (as fly workers does)
// with their state, capacity and load, and the policies in force.
func (s *Server) fleetPage(w http.ResponseWriter, r *http.Request, c *caller) error {
	type spokeView struct {
		Name, Team, State, Labels, Tags, Capacity, Load string
	}
	spokes, err := s.store.Spokes(r.Context())
	if err != nil {
		return err
	}
	loads, err := s.store.SpokeLoads(r.Context())
	if err != nil {
		return err
	}
	load := map[int64]store.Load{}
	for _, l := range loads {
		load[l.ID] = l.Load
	}
	var views []spokeView
	for _, sp := range spokes {
		if sp.TeamName != "" && !c.admin && len(c.teams[sp.TeamName]) == 0 {
			continue
		}
		var capacity placement.Resources
		_ = json.Unmarshal(sp.Capacity, &capacity)
		var labels map[string]string
		_ = json.Unmarshal(sp.Labels, &labels)
		var pairs []string
		for k, v := range labels {
			pairs = append(pairs, k+"="+v)
		}
		sort.Strings(pairs)
		l := load[sp.ID]
		views = append(views, spokeView{Name: sp.Name, Team: cmp.Or(sp.TeamName, "shared pool"), State: sp.WorkerState(),
			Labels: strings.Join(pairs, ", "), Tags: strings.Join(sp.Tags, ", "), Capacity: resources(capacity),
			Load: resources(placement.Resources{Steps: l.Steps, CPU: l.CPU, Memory: l.Memory})})
	}
	type policyView struct{ Name, Scope, Kind, OnError string }
	var policies []policyView
	all, err := s.store.ActivePolicies(r.Context())
	if err != nil {
		return err
	}
	for _, p := range all {
		if p.TeamID != 0 && !c.admin && len(c.teams[p.TeamName]) == 0 {
			continue
		}
		scope := "global"
		if p.TeamID != 0 {
			scope = "team " + p.TeamName
		}
		policies = append(policies, policyView{p.Name, scope, p.Engine, p.OnError})
	}
	return render(w, r, http.StatusOK, "fleet", struct {
		web.Page
		Spokes   []spokeView
		Policies []policyView
	}{pageOf(r, c, "Fleet"), views, policies})
}

// resources is a capacity or load as people read it.
func resources(r placement.Resources) string {
	var parts []string
	if r.Steps > 0 {
		parts = append(parts, fmt.Sprintf("%d steps", r.Steps))
	}
	if r.CPU > 0 {
		parts = append(parts, fmt.Sprintf("%g CPUs", r.CPU))
	}
	if r.Memory > 0 {
		parts = append(parts, fmt.Sprintf("%.1f GiB", float64(r.Memory)/(1<<30)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// uiChanges answers the pipelines whose jobs' builds changed since a time
// (?since=, RFC 3339, as the last answer or the page gave it) with their
// jobs' states, for the pages to update what changed instead of loading
// everything again; only pipelines the caller may see.
func (s *Server) uiChanges(w http.ResponseWriter, r *http.Request, c *caller) error {
	since, err := time.Parse(time.RFC3339Nano, r.URL.Query().Get("since"))
	if err != nil {
		return errorf(http.StatusBadRequest, "since: give a time as RFC 3339, as the last answer's since")
	}
	// A page that has not asked for longer than this loads again instead:
	// nobody makes the hub read its whole history of builds.
	if oldest := time.Now().Add(-maxChangesAge); since.Before(oldest) {
		since = oldest
	}
	ids, next, err := s.store.ChangedPipelines(r.Context(), since)
	if err != nil {
		return err
	}
	type pipelineChange struct {
		ID     int64     `json:"id"`
		Status string    `json:"status"`
		Jobs   []jobView `json:"jobs"`
	}
	out := struct {
		Since     string           `json:"since"`
		Pipelines []pipelineChange `json:"pipelines"`
	}{Since: next.UTC().Format(time.RFC3339Nano), Pipelines: []pipelineChange{}}
	var visible []store.Pipeline
	for _, id := range ids {
		p, err := s.store.PipelineByID(r.Context(), id)
		if err != nil || !(p.Public || c.role(p.TeamName) > 0) {
			continue
		}
		visible = append(visible, p)
	}
	jobsOf, err := s.jobViews(r, visible...)
	if err != nil {
		return err
	}
	for _, p := range visible {
		out.Pipelines = append(out.Pipelines, pipelineChange{ID: p.ID, Status: pipelineStatus(jobsOf[p.ID]), Jobs: jobsOf[p.ID]})
	}
	return writeJSON(w, http.StatusOK, out)
}

// maxChangesAge bounds how far back a question about changes looks.
const maxChangesAge = 10 * time.Minute

// since is when a page was made, for its first question about changes.
func since() string { return time.Now().Add(-5 * time.Second).UTC().Format(time.RFC3339Nano) }

package server

import (
	"cmp"
	"compress/gzip"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchyard-ci/switchyard/hub/httpapi"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/web"
)

// The web UI's pages (hub/web renders them), at Concourse's URLs, behind
// the routes' access: a page a caller may not see asks them to sign in.

// pageOf is the layout's part of a page for the caller, with the wall's
// message (fly set-wall) when there is one.
func (s *Server) pageOf(r *http.Request, c *caller, title string) web.Page {
	p := web.Page{Title: title, Path: r.URL.RequestURI()}
	if wall, err := s.store.GetWall(r.Context()); err == nil {
		p.Wall = wall.Message
	}
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
	page := s.pageOf(r, c, http.StatusText(status))
	if status == http.StatusForbidden {
		msg = "You are signed in as " + page.User + ", who may not see this page"
		if team := r.PathValue("team"); team != "" {
			msg += ": team " + team + " gives you no role that may. Ask one of its owners for one, or sign in as someone else"
		}
		msg += "."
	}
	_ = render(w, r, status, "error", struct {
		web.Page
		Message  string
		SignInAs bool
	}{page, msg, status == http.StatusForbidden})
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

// varsOf are an instanced pipeline's vars, "" for another.
func varsOf(p store.Pipeline) string {
	if p.InstanceVars == "{}" {
		return ""
	}
	return p.InstanceVars
}

func pipelineURL(p store.Pipeline) string {
	u := "/teams/" + url.PathEscape(p.TeamName) + "/pipelines/" + url.PathEscape(p.Name)
	if vars := varsOf(p); vars != "" {
		u += "?vars=" + url.QueryEscape(vars)
	}
	return u
}

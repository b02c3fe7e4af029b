package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/switchyard-ci/switchyard/hub/auth"
	"github.com/switchyard-ci/switchyard/hub/web"
)

// The resource page: versions, pin, enable and check.

func (s *Server) resourcePage(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, res, st, err := s.resourceStateFromPath(r)
	if err != nil {
		return err
	}
	pg, err := page(r)
	if err != nil {
		return err
	}
	pg.Limit = 100
	vs, err := s.store.VersionPage(r.Context(), res.ID, pg, nil)
	if err != nil {
		return err
	}
	type field struct{ Name, Value string }
	type versionView struct {
		ID              int64
		Text            string
		Metadata        []field
		Enabled, Pinned bool
	}
	pinned := ""
	if st.PinnedVersion != nil {
		pinned = versionText(st.PinnedVersion)
	}
	var versions []versionView
	for _, v := range vs {
		t := versionText(v.Version)
		view := versionView{ID: v.ID, Text: t, Enabled: !v.Disabled, Pinned: pinned != "" && t == pinned}
		_ = json.Unmarshal(v.Metadata, &view.Metadata) // [{"name":…,"value":…}], as the resource printed it
		versions = append(versions, view)
	}
	older, newer := s.versionPages(r, res.ID, vs, nil)
	type checkView struct {
		ID     int64
		Status string
	}
	var check *checkView
	if b := st.CheckBuild; b != nil {
		check = &checkView{b.ID, string(b.Status)}
	}
	return render(w, r, http.StatusOK, "resource", struct {
		web.Page
		Pipeline, PipelineURL, Name, Type, API string
		PinnedVersion, PinComment              string
		Check                                  *checkView
		CanOperate                             bool
		Versions                               []versionView
		Older, Newer                           string
	}{s.pageOf(r, c, res.Name), p.Name, pipelineURL(p), res.Name, res.Type, pipelineAPI(p, "/resources/", url.PathEscape(res.Name)),
		pinned, st.PinComment, check, c.role(p.TeamName) >= auth.PipelineOperator, versions,
		pageLink(r, "to", older), pageLink(r, "from", newer)})
}

// pageLink is the page's URL with only key=id for paging (and the vars
// of an instanced pipeline); "" when id is 0.
func pageLink(r *http.Request, key string, id int64) string {
	if id == 0 {
		return ""
	}
	q := url.Values{key: {strconv.FormatInt(id, 10)}}
	if vars := r.URL.Query().Get("vars"); vars != "" {
		q.Set("vars", vars)
	}
	return r.URL.Path + "?" + q.Encode()
}

// versionText is a version as people read it: its fields in order.
func versionText(v map[string]string) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+v[k])
	}
	return strings.Join(parts, ", ")
}

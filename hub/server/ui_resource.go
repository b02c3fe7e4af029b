package server

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/auth"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/web"
)

// The resource page: versions, pin, enable and check.

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

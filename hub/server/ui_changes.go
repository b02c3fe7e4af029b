package server

import (
	"net/http"
	"time"

	"github.com/switchyard-ci/switchyard/hub/store"
)

// Changes since a time, for live pages.

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

package server

import (
	"net/http"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/pipeline"
)

// Clearing caches: the hub moves the cache's epoch on (store.ClearTaskCache,
// ClearResourceCache); the next step keys its cache by the new epoch on its
// spoke, which deletes the old one then.

// clearTaskCache answers fly clear-task-cache -j P/J -s STEP [-c PATH]. It
// counts the cache paths the step declares inline (a task file's caches are
// cleared, but not counted: the hub does not read task files).
func (s *Server) clearTaskCache(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, j, err := s.jobFromPath(r)
	if err != nil {
		return err
	}
	step, cachePath := r.PathValue("step"), r.URL.Query().Get("cache_path")
	if err := pipeline.CheckName(step); err != nil {
		return errorf(http.StatusBadRequest, "step: %v", err)
	}
	if cachePath != "" {
		if _, err := pipeline.RelPath(cachePath); err != nil {
			return errorf(http.StatusBadRequest, "cache_path: %v", err)
		}
	}
	if err := s.store.ClearTaskCache(r.Context(), j.ID, step, cachePath); err != nil {
		return err
	}
	var n int64
	if raw, _, err := s.store.PipelineConfig(r.Context(), p.TeamID, p.Name, p.InstanceVars); err == nil {
		if cfg, err := pipeline.Load(raw, pipeline.Options{File: p.Name}); err == nil {
			for i := range cfg.Config.Jobs {
				if cfg.Config.Jobs[i].Name == j.Name {
					n = int64(len(cfg.Config.Jobs[i].TaskCaches(step, cachePath)))
				}
			}
		}
	}
	s.log.Info("task cache cleared", "job", j.Name, "step", step, "path", cachePath, "caches", n, "by", c.claims.User)
	return writeJSON(w, http.StatusOK, api.CachesRemoved{CachesRemoved: n})
}

// clearResourceCache answers fly clear-resource-cache -r P/R [-v k:v]: the
// resource's fetched versions (all, or the one given) are fetched again.
func (s *Server) clearResourceCache(w http.ResponseWriter, r *http.Request, c *caller) error {
	res, err := s.resourceFromPath(r)
	if err != nil {
		return err
	}
	var body struct {
		Version map[string]string `json:"version"`
	}
	if r.ContentLength != 0 {
		if err := readJSON(r, 64<<10, &body); err != nil {
			return err
		}
	}
	if len(body.Version) == 0 {
		body.Version = nil
	}
	n, err := s.store.ClearResourceCache(r.Context(), res.ID, body.Version)
	if err != nil {
		return err
	}
	s.log.Info("resource cache cleared", "resource", res.Name, "caches", n, "by", c.claims.User)
	return writeJSON(w, http.StatusOK, api.CachesRemoved{CachesRemoved: n})
}

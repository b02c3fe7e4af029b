package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/switchyard-ci/switchyard/hub/auth"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/wire"
)

// Landing, retiring and pruning spokes, at Concourse's worker routes (stock
// fly's land-worker and prune-worker). As in Concourse the spoke is looked
// up first (404); an admin may act on any spoke, a member of a team on that
// team's spokes, and nobody else on a pool spoke (403).

func (s *Server) landWorker(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.workerAction(w, r, c, s.store.LandSpoke)
}

func (s *Server) retireWorker(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.workerAction(w, r, c, s.store.RetireSpoke)
}

func (s *Server) pruneWorker(w http.ResponseWriter, r *http.Request, c *caller) error {
	err := s.workerAction(w, r, c, s.store.PruneSpoke)
	if errors.Is(err, store.ErrSpokeRunning) {
		return writeJSON(w, http.StatusBadRequest, map[string]string{"stderr": store.ErrSpokeRunning.Error()})
	}
	return err
}

func (s *Server) workerAction(w http.ResponseWriter, r *http.Request, c *caller, act func(context.Context, int64) error) error {
	name := r.PathValue("worker")
	if wire.ValidSpokeName(name) != nil { // no spoke has it: not a question for the store
		return errorf(http.StatusNotFound, "worker %q not found", name)
	}
	sp, err := s.store.SpokeByName(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) || (err == nil && sp.State == "gone") {
		return errorf(http.StatusNotFound, "worker %s not found", r.PathValue("worker"))
	}
	if err != nil {
		return err
	}
	if !c.admin && (sp.TeamName == "" || c.role(sp.TeamName) < auth.Member) {
		return errorf(http.StatusForbidden, "forbidden")
	}
	if err := act(r.Context(), sp.ID); err != nil {
		return err
	}
	s.log.Info("worker state asked", "spoke", sp.Name, "action", r.URL.Path)
	w.WriteHeader(http.StatusOK)
	return nil
}

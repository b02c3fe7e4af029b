package server

import (
	"net/http"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/httpapi"
	"github.com/switchyard-ci/switchyard/hub/store"
)

// A team's fleet quota (Switchyard's): admins set it, the team sees it.

func (s *Server) getTeamQuota(w http.ResponseWriter, r *http.Request, _ *caller) error {
	t, err := s.teamFromPath(r)
	if err != nil {
		return err
	}
	q, err := s.store.TeamQuotaOf(r.Context(), t.ID)
	if err != nil {
		return err
	}
	out := api.TeamQuota{MaxSteps: q.Steps, MaxCPU: q.CPU, Weight: q.Weight}
	if q.Memory > 0 {
		out.MaxMemory = resource.NewQuantity(q.Memory, resource.BinarySI).String()
	}
	return writeJSON(w, http.StatusOK, out)
}

// maxTeamWeight bounds a team's weight: shares stay comparable.
const maxTeamWeight = 1000

func (s *Server) setTeamQuota(w http.ResponseWriter, r *http.Request, c *caller) error {
	t, err := s.teamFromPath(r)
	if err != nil {
		return err
	}
	var in api.TeamQuota
	if err := httpapi.ReadJSON(r, 4<<10, &in); err != nil {
		return err
	}
	q := store.TeamQuota{Steps: in.MaxSteps, CPU: in.MaxCPU, Weight: in.Weight}
	if in.MaxSteps < 0 || in.MaxCPU < 0 {
		return errorf(http.StatusBadRequest, "max_steps and max_cpu: write zero (no bound) or more")
	}
	if in.Weight < 0 || in.Weight > maxTeamWeight {
		return errorf(http.StatusBadRequest, "weight %g: write a number from 0 (the default, 1) to %d", in.Weight, maxTeamWeight)
	}
	if in.MaxMemory != "" {
		m, err := resource.ParseQuantity(in.MaxMemory)
		if err != nil || m.Sign() < 0 {
			return errorf(http.StatusBadRequest, "max_memory %q: write a quantity such as 16Gi", in.MaxMemory)
		}
		q.Memory = m.Value()
	}
	if err := s.store.SetTeamQuota(r.Context(), t.ID, q); err != nil {
		return err
	}
	s.log.Info("team fleet quota set", "team", t.Name, "max_steps", q.Steps, "max_cpu", q.CPU, "max_memory", q.Memory, "weight", q.Weight, "by", c.claims.User)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

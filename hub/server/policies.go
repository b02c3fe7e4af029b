package server

import (
	"errors"
	"io"
	"net/http"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/placement"
	"github.com/switchyard-ci/switchyard/policy"
)

// maxPolicy bounds an uploaded policy (a Go module with its runtime is a few MB).
const maxPolicy = 32 << 20

// setPolicy answers PUT /teams/T/policies/NAME and PUT /policies/NAME
// (global): the body is the policy (Rego, or a WASM module), validated before
// it is stored as the policy's next version. ?on_error=deny|skip and
// ?admission=enforce|warn say how its failures and its admission denials count.
func (s *Server) setPolicy(w http.ResponseWriter, r *http.Request, c *caller) error {
	teamID, err := s.teamOrGlobal(r)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	if !validName(name) {
		return errorf(http.StatusBadRequest, "policy name %q: use letters, digits, - and _", name)
	}
	onError := r.URL.Query().Get("on_error")
	if onError == "" {
		onError = placement.OnErrorDeny
	}
	if onError != placement.OnErrorDeny && onError != placement.OnErrorSkip {
		return errorf(http.StatusBadRequest, "on_error %q: use deny (the step waits) or skip (the policy is left out)", onError)
	}
	warnOnly := false
	switch mode := r.URL.Query().Get("admission"); mode {
	case "", "enforce":
	case "warn":
		warnOnly = true
	default:
		return errorf(http.StatusBadRequest, "admission %q: use enforce (its denials block) or warn (they only warn)", mode)
	}
	src, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPolicy))
	if err != nil {
		return errorf(http.StatusRequestEntityTooLarge, "policy: %v (at most %d bytes)", err, maxPolicy)
	}
	p, err := policy.Load(r.Context(), name, src, s.cfg.Policies.Limits())
	if err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	engine := p.Engine()
	_ = p.Close(r.Context())
	saved, err := s.store.SetPolicy(r.Context(), store.Policy{TeamID: teamID, Name: name, Engine: engine, Source: src, OnError: onError,
		WarnOnly: warnOnly, CreatedBy: c.claims.User})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toPolicy(saved, r.PathValue("team")))
}

// teamOrGlobal is the team of a team route (policies, join tokens), 0 for
// the global routes (global policies, the shared pool's join tokens).
func (s *Server) teamOrGlobal(r *http.Request) (int64, error) {
	if r.PathValue("team") == "" {
		return 0, nil
	}
	t, err := s.teamFromPath(r)
	return t.ID, err
}

func toPolicy(p store.Policy, team string) api.Policy {
	if p.TeamID == 0 {
		team = ""
	} else if p.TeamName != "" {
		team = p.TeamName
	}
	return api.Policy{Name: p.Name, Team: team, Version: p.Version, Engine: p.Engine, OnError: p.OnError, WarnOnly: p.WarnOnly, CreatedBy: p.CreatedBy}
}

// listPolicies answers GET /teams/T/policies: the global policies and the
// team's, as they apply to the team's builds.
func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request, _ *caller) error {
	t, err := s.teamFromPath(r)
	if err != nil {
		return err
	}
	all, err := s.store.ActivePolicies(r.Context())
	if err != nil {
		return err
	}
	out := []api.Policy{}
	for _, p := range all {
		if p.TeamID == 0 || p.TeamID == t.ID {
			out = append(out, toPolicy(p, t.Name))
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) destroyPolicy(w http.ResponseWriter, r *http.Request, _ *caller) error {
	teamID, err := s.teamOrGlobal(r)
	if err != nil {
		return err
	}
	if err := s.store.DestroyPolicy(r.Context(), teamID, r.PathValue("name")); errors.Is(err, store.ErrNotFound) {
		return notFound("policy " + r.PathValue("name"))
	} else if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// buildPlacement answers GET /builds/B/placement: where its steps were
// placed and why.
func (s *Server) buildPlacement(w http.ResponseWriter, r *http.Request, _ *caller) error {
	b, err := s.buildFromPath(r)
	if err != nil {
		return err
	}
	list, err := s.store.Placements(r.Context(), b.ID)
	if err != nil {
		return err
	}
	out := make([]api.Placement, len(list))
	for i, d := range list {
		out[i] = api.Placement(d)
	}
	return writeJSON(w, http.StatusOK, out)
}

// validName is a policy name: letters, digits, - and _, at most 64.
func validName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, r := range name {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/pipeline"
)

// Teams at run time, as Concourse's team server answers: set-team creates
// (admins) or replaces a team's auth (its owners), rename-team, and
// destroy-team (admins; never main), which deletes everything of the team.

// roles that grant something; others are kept, with a warning, as Concourse
// keeps them.
var knownRoles = map[string]bool{"owner": true, "member": true, "pipeline-operator": true, "viewer": true}

func (s *Server) listTeams(w http.ResponseWriter, r *http.Request, c *caller) error {
	teams, err := s.store.Teams(r.Context())
	if err != nil {
		return err
	}
	out := []api.Team{}
	for _, t := range teams {
		if c.admin || len(c.teams[t.Name]) > 0 {
			out = append(out, toTeam(t))
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

func toTeam(t store.Team) api.Team {
	var ta api.TeamAuth
	_ = json.Unmarshal(t.Auth, &ta)
	return api.Team{ID: t.ID, Name: t.Name, Auth: ta}
}

func (s *Server) getTeam(w http.ResponseWriter, r *http.Request, c *caller) error {
	t, err := s.store.TeamByName(r.Context(), r.PathValue("team"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toTeam(t))
}

// setTeamResponse is Concourse's answer to set-team.
type setTeamResponse struct {
	Team     api.Team            `json:"team"`
	Warnings []api.ConfigWarning `json:"warnings,omitempty"`
	Errors   []string            `json:"errors,omitempty"`
}

// setTeam creates a team (admins only) or replaces an existing team's auth
// (its owners). Roles with no users and no groups are dropped (stored, they
// would let everyone in); an auth with nothing left is refused.
func (s *Server) setTeam(w http.ResponseWriter, r *http.Request, c *caller) error {
	name := r.PathValue("team")
	var body api.Team
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return writeJSON(w, http.StatusBadRequest, setTeamResponse{Errors: []string{fmt.Sprintf("team %s: the body is not a team (at most 1 MiB of {\"auth\": {ROLE: {\"users\": [...], \"groups\": [...]}}}): %v", name, err)}})
	}
	auth, warnings, problems := cleanAuth(body.Auth)
	if len(problems) > 0 {
		return writeJSON(w, http.StatusBadRequest, setTeamResponse{Errors: problems})
	}
	_, err := s.store.TeamByName(r.Context(), name)
	created := errors.Is(err, store.ErrNotFound)
	if err != nil && !created {
		return err
	}
	if created && !c.admin {
		return errorf(http.StatusForbidden, "forbidden: only owners of the main team create teams")
	}
	authJSON, _ := json.Marshal(auth)
	t, err := s.store.SaveTeam(r.Context(), name, authJSON)
	s.teamAuths.forget()
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return writeJSON(w, status, setTeamResponse{Team: toTeam(t), Warnings: warnings})
}

// cleanAuth lowercases entries, drops empty roles and says what is wrong.
func cleanAuth(in api.TeamAuth) (api.TeamAuth, []api.ConfigWarning, []string) {
	out := api.TeamAuth{}
	var warnings []api.ConfigWarning
	var problems []string
	roles := make([]string, 0, len(in))
	for role := range in {
		roles = append(roles, role)
	}
	sort.Strings(roles)
	for _, role := range roles {
		m := in[role]
		if len(m.Users)+len(m.Groups) == 0 {
			continue
		}
		if !knownRoles[role] {
			warnings = append(warnings, api.ConfigWarning{Type: "auth", Message: fmt.Sprintf("role %q grants nothing: the roles are owner, member, pipeline-operator and viewer", role)})
		}
		var clean api.RoleMembers
		for _, list := range []struct {
			in  []string
			out *[]string
			of  string
		}{{m.Users, &clean.Users, "users"}, {m.Groups, &clean.Groups, "groups"}} {
			for _, e := range list.in {
				connector, who, ok := strings.Cut(e, ":")
				if !ok || connector == "" || who == "" || len(e) > 512 {
					problems = append(problems, fmt.Sprintf("role %s: %s entry %q must be CONNECTOR:NAME (local:alice, oidc:platform), at most 512 bytes", role, list.of, e))
					continue
				}
				*list.out = append(*list.out, strings.ToLower(e))
			}
		}
		if clean.Users == nil {
			clean.Users = []string{}
		}
		if clean.Groups == nil {
			clean.Groups = []string{}
		}
		out[role] = clean
	}
	if len(out) == 0 && len(problems) == 0 {
		problems = append(problems, "auth config for the team must not be empty")
	}
	return out, warnings, problems
}

func (s *Server) renameTeam(w http.ResponseWriter, r *http.Request, c *caller) error {
	var body struct {
		Name string `json:"name"`
	}
	if err := readJSON(r, 64<<10, &body); err != nil {
		return err
	}
	if body.Name == "" {
		return configErrors(w, []string{"new team name must not be empty"})
	}
	if err := pipeline.CheckName(body.Name); err != nil {
		return configErrors(w, []string{"new team name: " + err.Error()})
	}
	from := r.PathValue("team")
	if from == "main" {
		return errorf(http.StatusForbidden, "the main team cannot be renamed: it is the admin team")
	}
	err := s.store.RenameTeam(r.Context(), from, body.Name)
	s.teamAuths.forget()
	if errors.Is(err, store.ErrTeamExists) {
		return errorf(http.StatusConflict, "team %s exists already", body.Name)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.SaveConfigResponse{})
}

// destroyTeam deletes a team and everything of it (admins; never main).
func (s *Server) destroyTeam(w http.ResponseWriter, r *http.Request, c *caller) error {
	name := r.PathValue("team")
	if name == "main" {
		return errorf(http.StatusForbidden, "the main team cannot be destroyed: it is the admin team")
	}
	err := s.store.DestroyTeam(r.Context(), name)
	s.teamAuths.forget()
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

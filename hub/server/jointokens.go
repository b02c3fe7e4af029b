package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"regexp"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/httpapi"
	"github.com/switchyard-ci/switchyard/hub/store"
)

// Join tokens at run time: a team's owners manage the team's
// (/api/v1/teams/T/join-tokens), admins the shared pool's
// (/api/v1/join-tokens). A token is shown once, when it is made or rotated;
// the hub keeps its SHA-256.

// joinTokenPrefix marks Switchyard join tokens, for secret scanners.
const joinTokenPrefix = "syjt_"

var joinTokenName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$`)

// maxJoinTokenLife bounds expires_in.
const maxJoinTokenLife = 10 * 365 * 24 * time.Hour

func (s *Server) listJoinTokens(w http.ResponseWriter, r *http.Request, _ *caller) error {
	teamID, err := s.teamOrGlobal(r)
	if err != nil {
		return err
	}
	tokens, err := s.store.JoinTokens(r.Context(), teamID)
	if err != nil {
		return err
	}
	out := make([]api.JoinToken, 0, len(tokens))
	for _, j := range tokens {
		out = append(out, toJoinToken(j, ""))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) createJoinToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	teamID, err := s.teamOrGlobal(r)
	if err != nil {
		return err
	}
	var req api.NewJoinToken
	if err := httpapi.ReadJSON(r, 4<<10, &req); err != nil {
		return err
	}
	if !joinTokenName.MatchString(req.Name) {
		return errorf(http.StatusBadRequest, "join token name %q: use 1 to 63 letters, digits, '_', '.' and '-', starting with a letter or digit", req.Name)
	}
	var expires *time.Time
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 || d > maxJoinTokenLife {
			return errorf(http.StatusBadRequest, "expires_in %q: write a positive duration of at most ten years, such as 24h", req.ExpiresIn)
		}
		at := time.Now().Add(d).UTC()
		expires = &at
	}
	token, hash := newJoinToken()
	j, err := s.store.CreateJoinToken(r.Context(), teamID, req.Name, hash, c.claims.User, expires)
	if errors.Is(err, store.ErrJoinTokenExists) {
		return errorf(http.StatusConflict, "join token %s exists: rotate it, or revoke it first", req.Name)
	}
	if err != nil {
		return err
	}
	s.log.Info("join token created", "name", j.Name, "team", j.TeamName, "by", c.claims.User)
	return writeJSON(w, http.StatusCreated, toJoinToken(j, token))
}

func (s *Server) rotateJoinToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	teamID, err := s.teamOrGlobal(r)
	if err != nil {
		return err
	}
	token, hash := newJoinToken()
	j, err := s.store.RotateJoinToken(r.Context(), teamID, r.PathValue("name"), hash)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("join token " + r.PathValue("name"))
	}
	if err != nil {
		return err
	}
	s.log.Info("join token rotated", "name", j.Name, "team", j.TeamName, "by", c.claims.User)
	return writeJSON(w, http.StatusOK, toJoinToken(j, token))
}

func (s *Server) revokeJoinToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	teamID, err := s.teamOrGlobal(r)
	if err != nil {
		return err
	}
	if err := s.store.RevokeJoinToken(r.Context(), teamID, r.PathValue("name")); errors.Is(err, store.ErrNotFound) {
		return notFound("join token " + r.PathValue("name"))
	} else if err != nil {
		return err
	}
	s.log.Info("join token revoked", "name", r.PathValue("name"), "team_id", teamID, "by", c.claims.User)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// revokeWorkerCredential voids a spoke's credential (who may: as for
// landing it).
func (s *Server) revokeWorkerCredential(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.workerAction(w, r, c, s.store.RevokeSpokeCredential)
}

func newJoinToken() (token, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	token = joinTokenPrefix + hex.EncodeToString(b)
	return token, store.HashToken(token)
}

func toJoinToken(j store.JoinToken, token string) api.JoinToken {
	out := api.JoinToken{Name: j.Name, Team: j.TeamName, Token: token, ExpiresAt: j.ExpiresAt, CreatedBy: j.CreatedBy, CreatedAt: j.CreatedAt}
	out.Expired = j.ExpiresAt != nil && time.Now().After(*j.ExpiresAt)
	return out
}

package server

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/auth"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ *caller) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) info(w http.ResponseWriter, r *http.Request, _ *caller) error {
	return writeJSON(w, http.StatusOK, api.Info{Version: api.Version, WorkerVersion: api.WorkerVersion,
		FeatureFlags: map[string]bool{}, ExternalURL: s.cfg.ExternalURL})
}

// token is the OAuth2 password grant for client fly (secret Zmx5), given as HTTP
// Basic or in the form, as fly's oauth2 library tries both.
func (s *Server) token(w http.ResponseWriter, r *http.Request, _ *caller) error {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return oauthError(w, http.StatusBadRequest, "invalid_request", "malformed form")
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != "fly" || secret != "Zmx5" {
		return oauthError(w, http.StatusUnauthorized, "invalid_client", "Invalid client credentials.")
	}
	if r.PostForm.Get("grant_type") != "password" {
		return oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "only the password grant is supported")
	}
	user, password := r.PostForm.Get("username"), r.PostForm.Get("password")
	addr, now := address(r), time.Now()
	if wait := s.signins.wait(addr, now); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		return oauthError(w, http.StatusTooManyRequests, "access_denied", fmt.Sprintf("too many failed sign-ins from this address: try again in %s", wait.Round(time.Second)))
	}
	if !s.cfg.Users.Check(user, password) {
		if wait := s.signins.failed(addr, now); wait > 0 {
			s.log.Warn("failed sign-ins from an address are slowed down", slog.String("address", addr), slog.Duration("wait", wait))
		}
		return oauthError(w, http.StatusUnauthorized, "access_denied", "Invalid username or password")
	}
	s.signins.succeeded(addr)
	if err := s.store.RecordLogin(r.Context(), user, "local"); err != nil {
		s.log.Warn("record a sign-in", slog.String("user", user), slog.String("error", err.Error()))
	}
	tok, _, err := s.tokens.issue(r.Context(), auth.Claims{User: user, Connector: "local"})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.Token{AccessToken: tok, TokenType: "bearer", ExpiresIn: int64(s.cfg.TokenTTL.Seconds())})
}

func oauthError(w http.ResponseWriter, status int, code, desc string) error {
	return writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// logout revokes the token of the session cookie fly sends
// (skymarshal_auth="bearer TOKEN"), or of the Authorization header.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, _ *caller) error {
	token, ok := bearer(r)
	if t, found := cookieToken(r); found {
		token, ok = t, true
	}
	if to := localRedirect(r.URL.Query().Get("redirect_uri")); to != "" {
		// The UI's sign-out: the session ends whether or not its token still holds.
		endSession(w)
		if ok {
			_ = s.tokens.revoke(r.Context(), token)
		}
		http.Redirect(w, r, to, http.StatusFound)
		return nil
	}
	if !ok {
		return errorf(http.StatusUnauthorized, "not authorized")
	}
	if _, err := s.tokens.verify(r.Context(), token); err != nil {
		return errorf(http.StatusUnauthorized, "not authorized: %v", err)
	}
	if err := s.tokens.revoke(r.Context(), token); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) user(w http.ResponseWriter, r *http.Request, c *caller) error {
	teams := c.teams
	if teams == nil {
		teams = map[string][]string{}
	}
	u := c.claims.User
	return writeJSON(w, http.StatusOK, api.UserInfo{
		Sub: base64.RawStdEncoding.EncodeToString([]byte(u)), Name: u, UserID: u, UserName: u,
		IsAdmin: c.admin, Teams: teams, Connector: c.claims.Connector, DisplayUserID: u,
	})
}

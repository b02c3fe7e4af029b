package onboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"

	"github.com/switchyard-ci/switchyard/api"
)

// hub is the controller's side of the hub's API: join tokens and workers,
// as a local user who owns the teams it onboards for (or an admin, for the
// shared pool). It signs in again when its token lapses.
type hub struct {
	url, user, password string
	http                *http.Client

	mu    sync.Mutex
	token string
}

// do calls the hub, signing in first, and again once if the token lapsed.
func (h *hub) do(ctx context.Context, method, path string, body, out any) (*api.Response, error) {
	for attempt := 0; ; attempt++ {
		h.mu.Lock()
		token := h.token
		h.mu.Unlock()
		if token == "" {
			t, err := api.PasswordGrant(ctx, h.http, h.url, h.user, h.password)
			if err != nil {
				return nil, fmt.Errorf("sign in to the hub as %s: %w", h.user, err)
			}
			token = t.AccessToken
			h.mu.Lock()
			h.token = token
			h.mu.Unlock()
		}
		c := &api.Client{URL: h.url, Token: token, HTTP: h.http}
		res, err := c.Do(ctx, method, path, nil, body, out)
		if errors.Is(err, api.ErrUnauthorized) && attempt == 0 {
			h.mu.Lock()
			h.token = ""
			h.mu.Unlock()
			continue
		}
		return res, err
	}
}

// tokensPath is where a team's join tokens are ("": the shared pool's).
func tokensPath(team string) string {
	if team == "" {
		return "/api/v1/join-tokens"
	}
	return "/api/v1/teams/" + url.PathEscape(team) + "/join-tokens"
}

// joinToken makes the join token name for team, or rotates it when it
// exists, and returns its value (shown only now).
func (h *hub) joinToken(ctx context.Context, team, name string) (string, error) {
	var t api.JoinToken
	res, err := h.do(ctx, http.MethodPost, tokensPath(team), api.NewJoinToken{Name: name}, &t)
	if res != nil && res.Status == http.StatusConflict {
		_, err = h.do(ctx, http.MethodPut, tokensPath(team)+"/"+url.PathEscape(name)+"/rotate", nil, &t)
	}
	if err != nil {
		return "", fmt.Errorf("join token %s: %w", name, err)
	}
	return t.Token, nil
}

// revoke revokes the join token name of team; one already gone is fine.
func (h *hub) revoke(ctx context.Context, team, name string) error {
	if _, err := h.do(ctx, http.MethodDelete, tokensPath(team)+"/"+url.PathEscape(name), nil, nil); err != nil && !errors.Is(err, api.ErrNotFound) {
		return fmt.Errorf("revoke join token %s: %w", name, err)
	}
	return nil
}

// retire asks the hub to retire the spoke (it drains, then the hub removes
// it); a spoke already gone is fine.
func (h *hub) retire(ctx context.Context, spoke string) error {
	if _, err := h.do(ctx, http.MethodPut, "/api/v1/workers/"+url.PathEscape(spoke)+"/retire", nil, nil); err != nil && !errors.Is(err, api.ErrNotFound) {
		return fmt.Errorf("retire spoke %s: %w", spoke, err)
	}
	return nil
}

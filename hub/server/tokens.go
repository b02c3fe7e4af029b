package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/switchyard-ci/switchyard/hub/auth"
	"github.com/switchyard-ci/switchyard/hub/store"
)

// RevocationStaleness is how long a replica may keep accepting a token
// revoked through another replica: it looks a token up again when its copy
// is older than this. A token revoked through this replica is refused at
// once, and roles (a team's destruction, a changed set-team) are read at
// every request.
const RevocationStaleness = 2 * time.Second

// maxCachedTokens bounds the tokens a replica remembers.
const maxCachedTokens = 100_000

// tokens issues users' access tokens (Concourse's opaque format) and looks
// them up, keeping what it found for RevocationStaleness.
type tokens struct {
	store *store.Store
	ttl   time.Duration
	// staleness is how long a lookup is trusted (RevocationStaleness; the
	// benchmark's baseline sets it to forever).
	staleness time.Duration

	mu   sync.Mutex
	seen map[string]seenToken // by hash
}

type seenToken struct {
	claims auth.Claims
	at     time.Time
}

// issue makes and stores a token.
func (t *tokens) issue(ctx context.Context, c auth.Claims) (string, auth.Claims, error) {
	exp := time.Now().Add(t.ttl)
	tok, err := auth.NewToken(exp)
	if err != nil {
		return "", auth.Claims{}, err
	}
	c.Expiry = exp.Unix()
	raw, _ := json.Marshal(c)
	if err := t.store.SaveToken(ctx, auth.TokenHash(tok), raw, exp); err != nil {
		return "", auth.Claims{}, err
	}
	return tok, c, nil
}

// errRevoked is a well-formed token the hub does not hold (revoked, or
// from another hub).
var errRevoked = errors.New("token revoked or unknown: log in again")

// verify returns a token's claims.
func (t *tokens) verify(ctx context.Context, token string) (auth.Claims, error) {
	exp, err := auth.TokenExpiry(token)
	if err != nil {
		return auth.Claims{}, err
	}
	now := time.Now()
	if !now.Before(exp) {
		return auth.Claims{}, errors.New("token expired")
	}
	hash := auth.TokenHash(token)
	t.mu.Lock()
	s, ok := t.seen[hash]
	t.mu.Unlock()
	if ok && now.Sub(s.at) < t.staleness {
		return s.claims, nil
	}
	raw, err := t.store.TokenClaims(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		t.forget(hash)
		return auth.Claims{}, errRevoked
	}
	if err != nil {
		return auth.Claims{}, err
	}
	var c auth.Claims
	if err := json.Unmarshal(raw, &c); err != nil || c.User == "" {
		return auth.Claims{}, fmt.Errorf("token claims unreadable: %v", err)
	}
	t.mu.Lock()
	if t.seen == nil || len(t.seen) >= maxCachedTokens {
		t.seen = map[string]seenToken{}
	}
	t.seen[hash] = seenToken{claims: c, at: now}
	t.mu.Unlock()
	return c, nil
}

func (t *tokens) forget(hash string) {
	t.mu.Lock()
	delete(t.seen, hash)
	t.mu.Unlock()
}

// revoke deletes a token: refused here at once, elsewhere within
// RevocationStaleness.
func (t *tokens) revoke(ctx context.Context, token string) error {
	hash := auth.TokenHash(token)
	t.forget(hash)
	return t.store.DeleteToken(ctx, hash)
}

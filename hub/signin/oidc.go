package signin

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Config is the hub's OIDC connector, from its --oidc-* flags.
type Config struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	Scopes       []string // default openid, profile, email, groups
	UserNameKey  string   // the claim that names the user (default preferred_username)
	GroupsKey    string   // the claim that lists groups (default groups)
	RedirectURL  string   // EXTERNAL-URL/sky/issuer/callback
}

// Identity is who signed in.
type Identity struct {
	User   string
	Groups []string
}

// OIDC signs users in through a provider. The provider is discovered at the
// first sign-in (and again after a failure), so a hub starts while its
// provider is down, and local users still sign in.
type OIDC struct {
	cfg Config

	mu       sync.Mutex
	provider *oidc.Provider
}

// New makes the connector.
func New(cfg Config) *OIDC {
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "profile", "email", "groups"}
	}
	if cfg.UserNameKey == "" {
		cfg.UserNameKey = "preferred_username"
	}
	if cfg.GroupsKey == "" {
		cfg.GroupsKey = "groups"
	}
	return &OIDC{cfg: cfg}
}

func (o *OIDC) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("the OpenID provider at %s cannot be reached or answers no discovery document: %w", o.cfg.Issuer, err)
	}
	o.provider = p
	return p, nil
}

func (o *OIDC) oauth2(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, Endpoint: p.Endpoint(), RedirectURL: o.cfg.RedirectURL, Scopes: o.cfg.Scopes}
}

// AuthURL is where the browser goes to sign in.
func (o *OIDC) AuthURL(ctx context.Context, st State, sealed string) (string, error) {
	p, err := o.discover(ctx)
	if err != nil {
		return "", err
	}
	return o.oauth2(p).AuthCodeURL(sealed, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)), nil
}

// Identity finishes a sign-in: it exchanges the code, verifies the ID
// token (signature, issuer, audience, expiry, nonce) and reads the user's
// name and groups.
func (o *OIDC) Identity(ctx context.Context, code string, st State) (Identity, error) {
	p, err := o.discover(ctx)
	if err != nil {
		return Identity{}, err
	}
	tok, err := o.oauth2(p).Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return Identity{}, fmt.Errorf("the OpenID provider refused the sign-in's code: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return Identity{}, fmt.Errorf("the OpenID provider sent no ID token")
	}
	id, err := p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		return Identity{}, fmt.Errorf("the OpenID provider's ID token is not valid: %w", err)
	}
	if id.Nonce != st.Nonce {
		return Identity{}, fmt.Errorf("the OpenID provider's ID token is not valid: it is not for this sign-in (nonce)")
	}
	var claims map[string]any
	if err := id.Claims(&claims); err != nil {
		return Identity{}, fmt.Errorf("the OpenID provider's ID token is not valid: %w", err)
	}
	name, _ := claims[o.cfg.UserNameKey].(string)
	if name == "" {
		return Identity{}, fmt.Errorf("the ID token has no %q claim to name the user: set --oidc-user-name-key to a claim your provider sends", o.cfg.UserNameKey)
	}
	return Identity{User: strings.ToLower(name), Groups: groups(claims[o.cfg.GroupsKey])}, nil
}

// groups reads a groups claim: a list of strings or of {name} objects, or
// one string.
func groups(v any) []string {
	var out []string
	switch x := v.(type) {
	case string:
		out = append(out, strings.ToLower(x))
	case []any:
		for _, g := range x {
			switch y := g.(type) {
			case string:
				out = append(out, strings.ToLower(y))
			case map[string]any:
				if n, ok := y["name"].(string); ok {
					out = append(out, strings.ToLower(n))
				}
			}
		}
	}
	return out
}

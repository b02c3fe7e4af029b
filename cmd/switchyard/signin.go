package main

import (
	"fmt"
	"strings"

	"github.com/switchyard-ci/switchyard/hub/signin"
)

// oidcConfig is the hub's OpenID provider, for users who sign in there.
type oidcConfig struct {
	Issuer, ClientID, ClientSecret string
	Scopes                         []string
	UserNameKey, GroupsKey         string
	DisplayName                    string
}

func (c *oidcConfig) flags(f *flags) *listFlag {
	f.str(&c.Issuer, "oidc-issuer", "", "the OpenID provider users sign in through (its discovery document is ISSUER/.well-known/openid-configuration); register EXTERNAL-URL/sky/issuer/callback as the redirect URI")
	f.str(&c.ClientID, "oidc-client-id", "", "the hub's client id at the OpenID provider")
	f.str(&c.ClientSecret, "oidc-client-secret", "", "the hub's client secret at the OpenID provider")
	f.str(&c.UserNameKey, "oidc-user-name-key", "preferred_username", "the ID token claim that names the user (team configs say oidc:NAME)")
	f.str(&c.GroupsKey, "oidc-groups-key", "groups", "the ID token claim that lists the user's groups (team configs say oidc:GROUP)")
	f.str(&c.DisplayName, "oidc-display-name", "OIDC", "the provider's name on the login page")
	return f.list("oidc-scope", "a scope to ask for (default openid, profile, email, groups)")
}

// connector makes the OIDC connector, or nil without an issuer.
func (c *oidcConfig) connector(scopes []string, externalURL string) (*signin.OIDC, error) {
	if c.Issuer == "" {
		if c.ClientID != "" || c.ClientSecret != "" {
			return nil, fmt.Errorf("--oidc-client-id and --oidc-client-secret need --oidc-issuer")
		}
		return nil, nil
	}
	if c.ClientID == "" || c.ClientSecret == "" {
		return nil, fmt.Errorf("--oidc-issuer %s needs --oidc-client-id and --oidc-client-secret", c.Issuer)
	}
	c.Scopes = scopes
	return signin.New(signin.Config{Issuer: c.Issuer, ClientID: c.ClientID, ClientSecret: c.ClientSecret, Scopes: scopes,
		UserNameKey: c.UserNameKey, GroupsKey: c.GroupsKey, RedirectURL: strings.TrimSuffix(externalURL, "/") + "/sky/issuer/callback"}), nil
}

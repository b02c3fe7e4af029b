package idtoken

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/switchyard-ci/switchyard/hub/creds"
)

// Config is an idtoken var source's config.
type Config struct {
	Audience     []string
	SubjectScope string // team, pipeline, instance or job
	ExpiresIn    time.Duration
	Algorithm    jose.SignatureAlgorithm
}

// ParseConfig reads a var source's config with Concourse's rules and words.
func ParseConfig(m map[string]any) (Config, error) {
	c := Config{SubjectScope: "pipeline", ExpiresIn: time.Hour, Algorithm: jose.RS256}
	for k, v := range m {
		switch k {
		case "audience":
			list, ok := v.([]any)
			if !ok {
				return c, fmt.Errorf("audience must be a list of strings")
			}
			for _, a := range list {
				s, ok := a.(string)
				if !ok {
					return c, fmt.Errorf("audience must be a list of strings")
				}
				c.Audience = append(c.Audience, s)
			}
		case "subject_scope":
			s, _ := v.(string)
			switch s {
			case "":
			case "team", "pipeline", "instance", "job":
				c.SubjectScope = s
			default:
				return c, fmt.Errorf("invalid subject_scope value: %v", v)
			}
		case "expires_in":
			s, _ := v.(string)
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				return c, fmt.Errorf("expires_in %v: write a duration such as 15m or 1h", v)
			}
			if d > 24*time.Hour {
				return c, fmt.Errorf("expires_in must be <= 24h0m0s")
			}
			c.ExpiresIn = d
		case "algorithm":
			s, _ := v.(string)
			switch jose.SignatureAlgorithm(s) {
			case jose.RS256, jose.ES256:
				c.Algorithm = jose.SignatureAlgorithm(s)
			default:
				return c, fmt.Errorf("algorithm %v: use RS256 or ES256", v)
			}
		default:
			return c, fmt.Errorf("invalid idtoken provider config: unknown setting: %s", k)
		}
	}
	return c, nil
}

// Source signs a fresh token per lookup of ((source:token)).
type Source struct {
	Issuer *Issuer
	Config Config
}

var _ creds.Source = (*Source)(nil)

// NewSource makes the var source of a config (for creds.Registry).
func (i *Issuer) NewSource(config map[string]any) (creds.Source, error) {
	if config == nil {
		return nil, fmt.Errorf("invalid idtoken provider config: config is required")
	}
	c, err := ParseConfig(config)
	if err != nil {
		return nil, err
	}
	return &Source{Issuer: i, Config: c}, nil
}

func (s *Source) Get(ctx context.Context, sc creds.Scope, name string) (any, bool, error) {
	if name != "token" {
		return nil, false, fmt.Errorf("idtoken credential provider only supports the field 'token'")
	}
	now := time.Now()
	claims := map[string]any{
		"iss": strings.TrimSuffix(s.Issuer.URL, "/"), "iat": now.Unix(), "exp": now.Add(s.Config.ExpiresIn).Unix(),
		"sub": Subject(sc, s.Config.SubjectScope), "team": sc.Team,
	}
	if sc.Pipeline != "" {
		claims["pipeline"] = sc.Pipeline
	}
	if sc.Job != "" {
		claims["job"] = sc.Job
	}
	if iv := flatInstanceVars(sc.InstanceVars); iv != "" {
		claims["instance_vars"] = iv
	}
	switch len(s.Config.Audience) {
	case 0:
	case 1:
		claims["aud"] = s.Config.Audience[0]
	default:
		claims["aud"] = s.Config.Audience
	}
	tok, err := s.Issuer.Sign(ctx, s.Config.Algorithm, claims)
	if err != nil {
		return nil, false, err
	}
	return tok, true, nil
}

// Subject is sub for a scope: T, T/P, T/P/<instance vars>, T/P/<instance
// vars>/J, each part with '/' escaped as %2F.
func Subject(sc creds.Scope, scope string) string {
	esc := func(s string) string { return strings.ReplaceAll(s, "/", "%2F") }
	parts := []string{esc(sc.Team)}
	if scope == "team" {
		return parts[0]
	}
	parts = append(parts, esc(sc.Pipeline))
	if scope == "pipeline" {
		return strings.Join(parts, "/")
	}
	parts = append(parts, esc(flatInstanceVars(sc.InstanceVars)))
	if scope == "instance" {
		return strings.Join(parts, "/")
	}
	return strings.Join(append(parts, esc(sc.Job)), "/")
}

// flatInstanceVars is the k:v,k2:v2 form of canonical instance vars JSON
// (flat keys sorted; nested values by dotted paths).
func flatInstanceVars(canonical string) string {
	if canonical == "" {
		return ""
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(canonical), &m); err != nil {
		return ""
	}
	var pairs []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if sub, ok := v.(map[string]any); ok {
			for k, val := range sub {
				walk(prefix+"."+k, val)
			}
			return
		}
		pairs = append(pairs, strings.TrimPrefix(prefix, ".")+":"+fmt.Sprint(v))
	}
	walk("", m)
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

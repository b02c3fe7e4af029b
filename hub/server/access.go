package server

import (
	"net/http"
	"strings"

	"github.com/switchyard-ci/switchyard/hub/auth"
	"github.com/switchyard-ci/switchyard/pipeline"
)

type accessKind int

const (
	undeclared    accessKind = iota
	anonymous                // anyone; a token that is present must be valid
	authenticated            // any valid user token
	team                     // a role on the {team} of the path
	pipelineRead             // viewer on the team, or a public pipeline
	buildRead                // a role on the build's team, or its pipeline is public
	buildDetail              // a role on the build's team, or its pipeline and its job are public (events, plan, preparation, artifacts)
	buildWrite               // a role on the build's team
	webhookToken             // the resource's webhook_token in the query, checked by the handler
	admin                    // owner of the main team
	scraper                  // an admin, or another bearer the handler checks (the metrics token)
)

// access is what a route needs.
type access struct {
	kind accessKind
	role auth.Role // for team, buildWrite
	page bool      // a page of the UI: errors are pages, 401 asks to sign in
}

// String says who may call a route with this access, for the API reference.
func (a access) String() string {
	switch a.kind {
	case anonymous:
		return "anyone"
	case authenticated:
		return "any signed-in user"
	case team:
		return "the team's " + a.role.String() + "s and up"
	case pipelineRead:
		return "the team's viewers and up; anyone for a public pipeline"
	case buildRead:
		return "the build's team; anyone when its pipeline is public"
	case buildDetail:
		return "the build's team; anyone when its pipeline and its job are public"
	case buildWrite:
		return "the build's team's " + a.role.String() + "s and up"
	case webhookToken:
		return "whoever holds the resource's webhook token"
	case admin:
		return "admins (owners of the main team)"
	case scraper:
		return "admins and the metrics token's bearer"
	}
	return "no one (undeclared)"
}

// caller is who makes a request.
type caller struct {
	claims *auth.Claims
	admin  bool
	teams  map[string][]string // team -> roles
}

func (c *caller) role(team string) auth.Role {
	if c.admin {
		return auth.Owner
	}
	return auth.Highest(c.teams[team])
}

// handler is a route's handler: it returns an error instead of writing one.
type handler func(w http.ResponseWriter, r *http.Request, c *caller) error

type route struct {
	method, path string
	access       access
	handle       handler
}

// wrap authenticates, checks the route's access and runs the handler. As in
// Concourse, access is checked before anything is looked up, so a caller
// without a role gets 401 or 403, never 404.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := checkPathNames(r)
		var c *caller
		if err == nil {
			c, err = s.authenticate(r)
			if err != nil && rt.access.kind == scraper {
				c, err = nil, nil // not a user's token: the handler checks it
			}
		}
		if err == nil {
			err = s.authorize(r, rt.access, c)
		}
		if err == nil {
			err = rt.handle(w, r, c)
		}
		switch {
		case err != nil && rt.access.page:
			s.pageError(w, r, c, err)
		case err != nil:
			s.writeError(w, r, err)
		}
	})
}

// pathNames are the route parameters that hold names.
var pathNames = []string{"team", "pipeline", "job", "resource", "resource_type", "name"}

// checkPathNames refuses a request whose path names a team, pipeline, job or
// resource by a name no one can have (a NUL, a slash, "..", too long), with
// the rule, before anything reads the store with it.
func checkPathNames(r *http.Request) error {
	for _, p := range pathNames {
		if v := r.PathValue(p); v != "" {
			if err := pipeline.CheckName(v); err != nil {
				return errorf(http.StatusBadRequest, "%s: %v", p, err)
			}
		}
	}
	return nil
}

// bearer returns the request's bearer token. Other schemes (the token
// endpoint's Basic client credentials) carry no token.
func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	return token, true
}

func (s *Server) authenticate(r *http.Request) (*caller, error) {
	token, present := bearer(r)
	if !present {
		t, ok := cookieToken(r)
		if !ok {
			return &caller{}, nil
		}
		if !csrfOK(r) {
			return nil, errorf(http.StatusForbidden, "forbidden: a request signed in by the session cookie must send its CSRF token (%s)", csrfHeader)
		}
		if _, err := s.tokens.verify(r.Context(), t); err != nil {
			return &caller{}, nil // a lapsed session: anonymous, and pages ask to sign in
		}
		token = t
	}
	claims, err := s.tokens.verify(r.Context(), token)
	if err != nil {
		return nil, errorf(http.StatusUnauthorized, "not authorized: %v", err)
	}
	teams, err := s.teamAuths.get(r.Context())
	if err != nil {
		return nil, err
	}
	c := &caller{claims: &claims, teams: map[string][]string{}}
	for _, t := range teams {
		if roles := auth.Roles(t.auth, claims.Connector, claims.User, claims.Groups...); len(roles) > 0 {
			c.teams[t.name] = roles
			if t.name == "main" && auth.Highest(roles) == auth.Owner {
				c.admin = true
			}
		}
	}
	return c, nil
}

func (s *Server) authorize(r *http.Request, a access, c *caller) error {
	unauthorized := errorf(http.StatusUnauthorized, "not authorized")
	forbidden := errorf(http.StatusForbidden, "forbidden")
	need := func(role auth.Role, team string) error {
		switch {
		case c.claims == nil:
			return unauthorized
		case c.role(team) < role:
			return forbidden
		}
		return nil
	}
	switch a.kind {
	case anonymous, webhookToken, scraper:
		return nil
	case authenticated:
		if c.claims == nil {
			return unauthorized
		}
		return nil
	case admin:
		if c.claims == nil {
			return unauthorized
		}
		if !c.admin {
			return forbidden
		}
		return nil
	case team:
		return need(a.role, r.PathValue("team"))
	case pipelineRead:
		if need(auth.Viewer, r.PathValue("team")) == nil {
			return nil
		}
		p, err := s.pipelineFromPath(r)
		if err != nil {
			return err
		}
		if p.Public {
			return nil
		}
		return need(auth.Viewer, p.TeamName)
	case buildRead, buildDetail, buildWrite:
		b, err := s.buildFromPath(r)
		if err != nil {
			return err
		}
		if a.kind == buildWrite {
			return need(a.role, b.TeamName)
		}
		if err := need(auth.Viewer, b.TeamName); err == nil || b.PipelineID == 0 {
			return err
		}
		p, err := s.store.PipelineByID(r.Context(), b.PipelineID)
		if err != nil || !p.Public {
			return need(auth.Viewer, b.TeamName)
		}
		if a.kind == buildRead {
			return nil
		}
		// As in Concourse, what a build did (its log, plan and artifacts)
		// is shown to outsiders only when its job is public too.
		if b.JobID != 0 {
			if j, err := s.store.JobByID(r.Context(), b.JobID); err == nil && j.Public {
				return nil
			}
		}
		return need(auth.Viewer, b.TeamName)
	}
	return forbidden
}

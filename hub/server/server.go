package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/auth"
	"github.com/switchyard-ci/switchyard/hub/creds"
	"github.com/switchyard-ci/switchyard/hub/httpapi"
	"github.com/switchyard-ci/switchyard/hub/intercept"
	"github.com/switchyard-ci/switchyard/hub/notify"
	"github.com/switchyard-ci/switchyard/hub/placer"
	"github.com/switchyard-ci/switchyard/hub/signin"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/web"
	"github.com/switchyard-ci/switchyard/policy"
	"github.com/switchyard-ci/switchyard/volumes"
)

// Config is what the server needs besides the store.
type Config struct {
	ExternalURL   string
	Users         auth.Users
	MainTeamUsers []string // local users who own the main team
	TokenTTL      time.Duration
	// MaxUpload bounds an artifact fly execute uploads, compressed and
	// expanded (0: 8 GiB).
	MaxUpload int64
	Policies  *placer.Placer  // the policies in force, shared with the engine (New makes one when nil)
	Artifacts *volumes.Bucket // where build artifacts live; nil: fly execute's uploads are refused
	// Intercepts are the fly intercept sessions of this replica, shared with
	// the gateway (New makes them when nil).
	Intercepts *intercept.Broker
	// Spokes serves the spoke-facing API (package gateway) under /api/spoke/;
	// nil: none.
	Spokes http.Handler
	// WellKnown serves /.well-known/ (the id tokens' discovery document and
	// keys, package idtoken), to anyone; nil: none.
	WellKnown http.Handler
	// OIDC signs users in through an OpenID provider (nil: local users
	// only); OIDCName names it on the login page.
	OIDC     *signin.OIDC
	OIDCName string
	// CLIDir holds the fly binaries the hub serves to fly sync
	// (fly-PLATFORM-ARCH, or .tgz); "": none.
	CLIDir string
	// Creds resolves ((vars)) for set-pipeline --check-creds (nil: nothing
	// defines any).
	Creds *creds.Registry
	// Metrics serves the hub's metrics on /metrics (nil: 404) to admins and
	// to the bearer of MetricsToken ("": admins only).
	Metrics      http.Handler
	MetricsToken string
}

// Waker lets the server tell the engine that a build or step changed, or that
// someone asked to abort a build, and the scheduler that jobs asked to be
// scheduled.
type Waker interface {
	Wake(buildID int64)
	WakeAbort(buildID int64)
	WakeScheduler()
}

// Server serves the API. Create it with New.
type Server struct {
	cfg    Config
	store  *store.Store
	tokens *tokens
	// teamAuths keeps the teams' auth that requests read for their roles.
	teamAuths *teamAuths
	stateKey  []byte        // signs OIDC sign-ins' states
	signins   signinLimiter // failed password grants by address
	log       *slog.Logger
	waker     Waker
	notify    *notify.Notifier
	mux       *http.ServeMux

	intercepts *intercept.Broker // fly intercept sessions this replica holds, shared with the gateway
}

// New builds the server: it makes sure the main team exists with its owners and
// loads the token signing key shared by every replica.
func New(ctx context.Context, cfg Config, st *store.Store, waker Waker, notifier *notify.Notifier, log *slog.Logger) (*Server, error) {
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = 24 * time.Hour
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = 8 << 30
	}
	if cfg.Creds == nil {
		cfg.Creds = &creds.Registry{}
	}
	if cfg.Intercepts == nil {
		cfg.Intercepts = &intercept.Broker{}
	}
	if cfg.Policies == nil {
		cfg.Policies = placer.New(st, policy.Limits{}, log)
	}
	if _, err := st.ChangeTeam(ctx, "main", func(stored json.RawMessage) (json.RawMessage, error) {
		return seedOwners(stored, cfg.MainTeamUsers)
	}); err != nil {
		return nil, err
	}
	toks := &tokens{store: st, ttl: cfg.TokenTTL, staleness: RevocationStaleness}
	stateKey, err := st.HubKey(ctx, "oidc-state")
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, store: st, tokens: toks, teamAuths: &teamAuths{store: st, staleness: RevocationStaleness}, stateKey: stateKey, log: log, waker: waker, notify: notifier, mux: http.NewServeMux(), intercepts: cfg.Intercepts}
	if err := s.backfillSchedules(ctx); err != nil {
		return nil, err
	}
	for _, r := range s.routes() {
		if r.access.kind == undeclared {
			return nil, fmt.Errorf("route %s %s declares no access", r.method, r.path)
		}
		s.mux.Handle(r.method+" "+r.path, timed(r.method, r.path, s.wrap(r)))
	}
	s.mux.Handle("GET /public/", http.StripPrefix("/public/", http.FileServerFS(web.Static())))
	if cfg.WellKnown != nil {
		s.mux.Handle("/.well-known/", cfg.WellKnown)
	}
	if cfg.Spokes != nil {
		s.mux.Handle("/api/spoke/", cfg.Spokes)
	}
	return s, nil
}

// seedOwners adds the --main-team-local-user users to the main team's
// owners. Flags only add: roles set through the API (PUT /teams/main, fly
// set-team) stay as they are across restarts, and a user dropped from the
// flags stays an owner until the API removes them.
func seedOwners(stored json.RawMessage, users []string) (json.RawMessage, error) {
	ta := api.TeamAuth{}
	if err := json.Unmarshal(stored, &ta); err != nil {
		return nil, fmt.Errorf("read the main team's auth: %w", err)
	}
	owner := ta["owner"]
	if owner.Groups == nil {
		owner.Groups = []string{}
	}
	for _, u := range users {
		if !slices.Contains(owner.Users, "local:"+u) {
			owner.Users = append(owner.Users, "local:"+u)
		}
	}
	if owner.Users == nil {
		owner.Users = []string{}
	}
	ta["owner"] = owner
	return json.Marshal(ta)
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Concourse-Version", api.Version)
	s.mux.ServeHTTP(w, r)
}

func errorf(status int, format string, args ...any) error {
	return httpapi.Errorf(status, format, args...)
}

var (
	notFound  = httpapi.NotFound
	writeJSON = httpapi.WriteJSON
	readJSON  = httpapi.ReadJSON
)

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	httpapi.WriteError(w, r, s.log, err)
}

func (s *Server) externalURL(r *http.Request) string {
	if s.cfg.ExternalURL != "" {
		return strings.TrimSuffix(s.cfg.ExternalURL, "/")
	}
	return "http://" + r.Host
}

package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/auth"
	"github.com/switchyard-ci/switchyard/hub/notify"
	"github.com/switchyard-ci/switchyard/hub/placer"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/policy"
	"github.com/switchyard-ci/switchyard/volumes"
)

// Config is what the server needs besides the store.
type Config struct {
	ExternalURL   string
	Users         auth.Users
	MainTeamUsers []string          // local users who own the main team
	SpokeTokens   map[string]string // join token -> team name ("" joins the shared pool)
	TokenTTL      time.Duration
	SpokeLease    time.Duration
	// MaxUpload bounds an artifact fly execute uploads, compressed and
	// expanded (0: 8 GiB).
	MaxUpload int64
	Policies  *placer.Placer  // the policies in force, shared with the engine (New makes one when nil)
	Artifacts *volumes.Bucket // where build artifacts live; nil: steps with outputs error
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
	signer auth.Signer
	log    *slog.Logger
	waker  Waker
	notify *notify.Notifier
	mux    *http.ServeMux

	sessions sessions // fly intercept sessions this replica holds
	assigned assigned // steps handed to spokes, for their reports
	blobKey  []byte   // signs the artifact URLs the hub serves itself
}

// New builds the server: it makes sure the main team exists with its owners and
// loads the token signing key shared by every replica.
func New(ctx context.Context, cfg Config, st *store.Store, waker Waker, notifier *notify.Notifier, log *slog.Logger) (*Server, error) {
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = 24 * time.Hour
	}
	if cfg.SpokeLease == 0 {
		cfg.SpokeLease = 10 * time.Second
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = 8 << 30
	}
	if cfg.Policies == nil {
		cfg.Policies = placer.New(st, policy.Limits{}, log)
	}
	key, err := st.HubKey(ctx, "token-signing")
	if err != nil {
		return nil, err
	}
	blobKey, err := st.HubKey(ctx, "artifact-urls")
	if err != nil {
		return nil, err
	}
	if _, err := st.ChangeTeam(ctx, "main", func(stored json.RawMessage) (json.RawMessage, error) {
		return seedOwners(stored, cfg.MainTeamUsers)
	}); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, store: st, signer: auth.Signer{Key: key}, log: log, waker: waker, notify: notifier, mux: http.NewServeMux(), blobKey: blobKey}
	if err := s.backfillSchedules(ctx); err != nil {
		return nil, err
	}
	for _, r := range s.routes() {
		if r.access.kind == undeclared {
			return nil, fmt.Errorf("route %s %s declares no access", r.method, r.path)
		}
		s.mux.Handle(r.method+" "+r.path, s.wrap(r))
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

// httpError is an error with the status it answers with.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

func notFound(what string) error { return errorf(http.StatusNotFound, "%s not found", what) }

// writeError answers with a JSON body naming the problem. 404s use the shape fly
// parses for its "not found" messages.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	if !errors.As(err, &he) {
		if errors.Is(err, store.ErrNotFound) {
			he = &httpError{status: http.StatusNotFound, msg: err.Error()}
		} else {
			s.log.Error("request failed", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("error", err.Error()))
			he = &httpError{status: http.StatusInternalServerError, msg: "internal error: " + err.Error()}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(he.status)
	if he.status == http.StatusNotFound {
		_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"detail": he.msg}}})
		return
	}
	_ = json.NewEncoder(w).Encode(api.ErrorResponse{Errors: []string{he.msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// readJSON decodes a bounded request body.
func readJSON(r *http.Request, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, limit))
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, "malformed request body: %v", err)
	}
	return nil
}

func (s *Server) externalURL(r *http.Request) string {
	if s.cfg.ExternalURL != "" {
		return strings.TrimSuffix(s.cfg.ExternalURL, "/")
	}
	return "http://" + r.Host
}

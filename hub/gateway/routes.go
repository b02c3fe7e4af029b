package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-ci/switchyard/hub/creds"
	"github.com/switchyard-ci/switchyard/hub/httpapi"
	"github.com/switchyard-ci/switchyard/hub/intercept"
	"github.com/switchyard-ci/switchyard/hub/notify"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/telemetry"
	"github.com/switchyard-ci/switchyard/volumes"
	"github.com/switchyard-ci/switchyard/wire"
)

// Config is what the gateway needs besides its parts.
type Config struct {
	SpokeTokens map[string]string // join token -> team name ("" joins the shared pool)
	SpokeLease  time.Duration     // how long a spoke's lease lasts unrenewed (0: DefaultSpokeLease)
	Artifacts   *volumes.Bucket   // where build artifacts live; nil: steps with outputs error
	Creds       *creds.Registry   // resolves the steps' ((vars)) (nil: nothing defines any)
}

// Waker tells the engine that a build's step ended: with the end as stored
// (StepEnded), so that the engine need not read it back, or without (Wake).
type Waker interface {
	Wake(buildID int64)
	StepEnded(buildID, stepID int64, state store.StepState, result json.RawMessage)
}

// Gateway serves the spoke-facing API.
type Gateway struct {
	cfg         Config
	store       *store.Store
	waker       Waker
	notify      *notify.Notifier
	intercepts  *intercept.Broker // fly intercept sessions this replica holds, shared with the user API
	log         *slog.Logger
	mux         *http.ServeMux
	blobKey     []byte      // signs the artifact URLs the hub serves itself
	assigned    assigned    // steps handed to spokes, for their reports
	credentials credentials // spokes by credential, for a moment
	creds       *creds.Registry
}

// New makes the gateway; it loads the key of the artifact URLs the hub
// signs, shared by every replica.
func New(ctx context.Context, cfg Config, st *store.Store, waker Waker, notifier *notify.Notifier, intercepts *intercept.Broker, log *slog.Logger) (*Gateway, error) {
	if cfg.SpokeLease == 0 {
		cfg.SpokeLease = DefaultSpokeLease
	}
	blobKey, err := st.HubKey(ctx, "artifact-urls")
	if err != nil {
		return nil, err
	}
	if cfg.Creds == nil {
		cfg.Creds = &creds.Registry{}
	}
	g := &Gateway{creds: cfg.Creds, cfg: cfg, store: st, waker: waker, notify: notifier, intercepts: intercepts, log: log, mux: http.NewServeMux(), blobKey: blobKey}
	for _, rt := range g.routes() {
		g.mux.Handle(rt.method+" "+rt.path, g.wrap(rt))
	}
	return g, nil
}

// ServeHTTP serves the spoke API.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.mux.ServeHTTP(w, r) }

// Who may call a route.
type access int

const (
	spokeOnly access = iota // a spoke's own credential
	joinToken               // a join token, in the body, checked by the handler
	signedURL               // a signature the hub made, in the query, checked by the handler
)

type route struct {
	method, path string
	access       access
	handle       func(w http.ResponseWriter, r *http.Request, sp *store.Spoke) error
}

func (g *Gateway) routes() []route {
	return []route{
		{"POST", wire.PathJoin, joinToken, g.spokeJoin},
		{"POST", wire.PathHeartbeat, spokeOnly, g.spokeHeartbeat},
		{"POST", wire.PathRetire, spokeOnly, g.spokeRetire},
		{"GET", wire.PathSteps, spokeOnly, g.spokeSteps},
		{"POST", wire.PathLogs, spokeOnly, g.spokeLogs},
		{"POST", wire.PathResult, spokeOnly, g.spokeResult},
		{"GET", wire.PathIntercept, spokeOnly, g.spokeIntercept},
		{"POST", wire.PathArtifacts, spokeOnly, g.spokeArtifacts},
		{"GET", wire.PathBlobs + "{key...}", signedURL, g.blob},
		{"PUT", wire.PathBlobs + "{key...}", signedURL, g.blob},
	}
}

// wrap authenticates a spoke route's caller by its credential and runs the
// handler.
func (g *Gateway) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sc := telemetry.ParseTraceparent(r.Header.Get("Traceparent")); sc.IsValid() && telemetry.Enabled() {
			// A spoke's call about a run: what is logged of it joins the run's trace.
			r = r.WithContext(trace.ContextWithRemoteSpanContext(r.Context(), sc))
		}
		var sp *store.Spoke
		var err error
		if rt.access == spokeOnly {
			sp, err = g.authenticate(r)
		}
		if err == nil {
			err = rt.handle(w, r, sp)
		}
		if err != nil {
			httpapi.WriteError(w, r, g.log, err)
		}
	})
}

// authenticate finds the spoke whose credential the request bears.
func (g *Gateway) authenticate(r *http.Request) (*store.Spoke, error) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || token == "" {
		return nil, httpapi.Errorf(http.StatusUnauthorized, "not authorized: show the spoke's credential")
	}
	return g.spokeByCredential(r.Context(), token)
}

// RouteTable lists every route of the spoke API as "METHOD PATH", for the
// isolation test, which must cover each.
func RouteTable() []string {
	var out []string
	for _, r := range (&Gateway{}).routes() {
		out = append(out, r.method+" "+r.path)
	}
	return out
}

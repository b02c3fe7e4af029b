package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only on --debug-listen
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchyard-ci/switchyard/hub/artifactgc"
	"github.com/switchyard-ci/switchyard/hub/auth"
	"github.com/switchyard-ci/switchyard/hub/checker"
	"github.com/switchyard-ci/switchyard/hub/engine"
	"github.com/switchyard-ci/switchyard/hub/gateway"
	"github.com/switchyard-ci/switchyard/hub/idtoken"
	"github.com/switchyard-ci/switchyard/hub/intercept"
	"github.com/switchyard-ci/switchyard/hub/notify"
	"github.com/switchyard-ci/switchyard/hub/placer"
	"github.com/switchyard-ci/switchyard/hub/reaper"
	"github.com/switchyard-ci/switchyard/hub/scheduler"
	"github.com/switchyard-ci/switchyard/hub/server"
	"github.com/switchyard-ci/switchyard/hub/signin"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/metrics"
	"github.com/switchyard-ci/switchyard/policy"
	"github.com/switchyard-ci/switchyard/telemetry"
	"github.com/switchyard-ci/switchyard/volumes"
)

// hubConfig is the hub's configuration, validated once.
type hubConfig struct {
	Listen      string
	DatabaseURL string
	ExternalURL string
	Users       auth.Users
	MainUsers   []string
	SpokeTokens map[string]string
	BuildLease  time.Duration
	SpokeLease  time.Duration // how long a spoke goes without a heartbeat before its steps move
	// PlacementWait bounds a step's wait for a spoke that can run it.
	PlacementWait time.Duration
	// FairShare orders the steps that wait for room across teams.
	FairShare   engine.FairShare
	DebugListen string
	// MaxAcross bounds the runs (combinations of values) of one across step.
	MaxAcross int
	// Retention bounds what builds' logs are kept; archived pipelines go
	// after ArchivedRetention (0: never).
	Retention         reaper.Limits
	ArchivedRetention time.Duration
	// Artifacts: the object store's URL, and how long finished builds'
	// artifacts are kept there.
	ArtifactStore     string
	ArtifactRetention time.Duration
	MaxUpload         int64         // bytes of an artifact fly execute uploads, compressed and expanded
	PolicyTimeout     time.Duration // how long one evaluation of a policy may run
	Creds             credsConfig
	// Encryption of configs at rest: the key, and the one it replaces.
	EncryptionKey    string
	OldEncryptionKey string
	Keys             *store.Keys // made of the two
	// Users' tokens: how long one lives, and how often their signing key
	// is replaced.
	AuthDuration time.Duration
	CLIDir       string // fly binaries for fly sync
	MetricsToken string // a bearer that may scrape /metrics (admins may too)
	OIDC         oidcConfig
	Signin       *signin.OIDC // made of OIDC; nil: local users only
}

func parseHubConfig(args []string, stderr io.Writer) (hubConfig, error) {
	f := newFlags("switchyard hub", stderr)
	cfg := hubConfig{Users: auth.Users{}, SpokeTokens: map[string]string{}}
	f.str(&cfg.Listen, "listen", "127.0.0.1:8080", "address of the API")
	f.str(&cfg.DatabaseURL, "database-url", "", "PostgreSQL or CockroachDB URL")
	f.str(&cfg.DebugListen, "debug-listen", "", "address for Go's pprof handlers (off when empty; keep it on loopback)")
	f.str(&cfg.ExternalURL, "external-url", "", "URL users reach the hub at (default http://LISTEN)")
	f.integer(&cfg.MaxAcross, "max-across-combinations", engine.DefaultMaxAcrossCombinations, "the most runs (combinations of its vars' values) one across step may make")
	f.integer(&cfg.Retention.DefaultBuilds, "default-build-logs-to-retain", 0, "builds whose logs a job keeps when its build_log_retention sets no builds (0: all)")
	f.integer(&cfg.Retention.MaxBuilds, "max-build-logs-to-retain", 0, "the most builds whose logs any job keeps (0: no maximum)")
	f.integer(&cfg.Retention.DefaultDays, "default-days-to-retain-build-logs", 0, "days a job keeps builds' logs when its build_log_retention sets no days (0: forever)")
	f.integer(&cfg.Retention.MaxDays, "max-days-to-retain-build-logs", 0, "the most days any job keeps builds' logs (0: no maximum)")
	f.duration(&cfg.ArchivedRetention, "archived-pipeline-retention", 0, "how long an archived pipeline's data is kept before it is deleted (0: forever)")
	f.duration(&cfg.BuildLease, "build-lease", engine.DefaultLeaseTTL, "how long a hub owns a build, or the scheduling of a pipeline, without renewing; another hub takes over after it")
	f.duration(&cfg.PlacementWait, "step-placement-wait", time.Hour, "how long a step waits for a spoke that can run it (none fits, or none has room) before it errors with the reason (0: as long as it takes)")
	f.duration(&cfg.SpokeLease, "spoke-lease", gateway.DefaultSpokeLease, "how long a spoke may go without a heartbeat (it sends one every third of this) before it is stalled and its running steps move to other spokes")
	f.str(&cfg.ArtifactStore, "artifact-store", "file://"+filepath.Join(os.TempDir(), "switchyard-artifacts"),
		"where build artifacts live: file:///DIR, or s3://BUCKET?endpoint=URL&region=R&use_path_style=true with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	f.duration(&cfg.ArtifactRetention, "artifact-retention", 24*time.Hour, "how long the artifacts of a finished build are kept in the artifact store")
	f.duration(&cfg.PolicyTimeout, "policy-timeout", 100*time.Millisecond,
		"how long one evaluation of a policy may run before it is stopped and counts as failed; a policy's start function gets ten times this")
	var maxUpload, fairShare string
	f.str(&fairShare, "fair-share", string(engine.FairDRF), "how steps that wait for room take turns across teams: drf (the team with the smallest dominant share of open steps, CPU and memory over its weight goes first), steps (open steps over its weight) or fifo (first come, first served)")
	f.str(&maxUpload, "max-upload-size", "8Gi", "the most an artifact fly execute uploads may hold, compressed and expanded")
	users := f.list("add-local-user", "NAME:PASSWORD of a local user")
	mains := f.list("main-team-local-user", "local user who owns the main team (and so is an admin)")
	tokens := f.list("spoke-join-token", "TOKEN or TEAM=TOKEN: lets spokes join the shared pool, or a team")
	dummy := cfg.Creds.flags(f)
	scopes := cfg.OIDC.flags(f)
	f.duration(&cfg.AuthDuration, "auth-duration", 24*time.Hour, "how long a user's token lives")
	f.str(&cfg.MetricsToken, "metrics-token", "", "a bearer token Prometheus scrapes /metrics with (admins may scrape too); the metrics name teams, pipelines and jobs, so they are not public")
	f.str(&cfg.CLIDir, "cli-artifacts-dir", "", "directory of the fly binaries fly sync downloads: fly-PLATFORM-ARCH, or fly-PLATFORM-ARCH.tgz holding fly")
	f.str(&cfg.EncryptionKey, "encryption-key", "", "16 or 32 bytes: pipeline configs, resource sources and plans rest in the database sealed with AES-GCM under this key")
	f.str(&cfg.OldEncryptionKey, "old-encryption-key", "", "the key being replaced: what it sealed is sealed again with --encryption-key at start (alone: decrypted)")
	if err := f.parse(args); err != nil {
		return cfg, err
	}
	if err := cfg.Creds.validate(*dummy); err != nil {
		return cfg, err
	}
	var err error
	if cfg.Keys, err = store.NewKeys(cfg.EncryptionKey, cfg.OldEncryptionKey); err != nil {
		return cfg, err
	}
	if cfg.AuthDuration <= 0 {
		return cfg, fmt.Errorf("--auth-duration %s: write a positive duration such as 24h", cfg.AuthDuration)
	}
	if cfg.PolicyTimeout <= 0 {
		return cfg, fmt.Errorf("--policy-timeout %s: write a positive duration such as 100ms or 2s", cfg.PolicyTimeout)
	}
	if cfg.FairShare, err = engine.ParseFairShare(fairShare); err != nil {
		return cfg, fmt.Errorf("--fair-share %w", err)
	}
	if cfg.PlacementWait < 0 {
		return cfg, fmt.Errorf("--step-placement-wait %s: write a duration such as 1h, or 0 to wait as long as it takes", cfg.PlacementWait)
	}
	if cfg.SpokeLease < 3*time.Second {
		return cfg, fmt.Errorf("--spoke-lease %s: write at least 3s (spokes send a heartbeat every third of it)", cfg.SpokeLease)
	}
	for _, v := range []struct {
		flag string
		n    int
	}{{"default-build-logs-to-retain", cfg.Retention.DefaultBuilds}, {"max-build-logs-to-retain", cfg.Retention.MaxBuilds},
		{"default-days-to-retain-build-logs", cfg.Retention.DefaultDays}, {"max-days-to-retain-build-logs", cfg.Retention.MaxDays}} {
		if v.n < 0 {
			return cfg, fmt.Errorf("--%s %d: write 0 or a positive number", v.flag, v.n)
		}
	}
	if cfg.ArchivedRetention < 0 {
		return cfg, fmt.Errorf("--archived-pipeline-retention %s: write 0 or a positive duration such as 720h", cfg.ArchivedRetention)
	}
	if cfg.MaxAcross <= 0 {
		return cfg, fmt.Errorf("--max-across-combinations %d: write a positive number", cfg.MaxAcross)
	}
	if cfg.MaxUpload, err = size("max-upload-size", maxUpload, false); err != nil {
		return cfg, err
	}
	for _, u := range *users {
		if err := cfg.Users.Add(u); err != nil {
			return cfg, err
		}
	}
	cfg.MainUsers = *mains
	for _, m := range cfg.MainUsers {
		if _, ok := cfg.Users[m]; !ok {
			return cfg, fmt.Errorf("--main-team-local-user %s: no such --add-local-user", m)
		}
	}
	for _, t := range *tokens {
		team, token, ok := strings.Cut(t, "=")
		if !ok {
			team, token = "", t
		}
		if token == "" {
			return cfg, fmt.Errorf("--spoke-join-token %q: the token is empty", t)
		}
		cfg.SpokeTokens[token] = team
	}
	if cfg.ExternalURL == "" {
		cfg.ExternalURL = "http://" + cfg.Listen
	}
	if cfg.Signin, err = cfg.OIDC.connector(*scopes, cfg.ExternalURL); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// runHub serves the API and runs builds until ctx ends.
func runHub(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseHubConfig(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "error: %v\n", err)
		}
		return 2
	}
	log := slog.New(telemetry.Logs(slog.NewJSONHandler(stderr, nil))).With(slog.String("component", "hub"))
	stopTracing, err := telemetry.Setup(ctx, "switchyard-hub")
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 2
	}
	defer flushTraces(stopTracing, log)
	if err := serveHub(ctx, cfg, log); err != nil {
		log.Error("hub stopped", slog.String("error", err.Error()))
		return 1
	}
	return 0
}

func serveHub(ctx context.Context, cfg hubConfig, log *slog.Logger) error {
	st, err := store.OpenWith(ctx, cfg.DatabaseURL, log, cfg.Keys)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	if err := st.CheckKeys(ctx); err != nil {
		return err
	}
	if n, err := st.Reseal(ctx); err != nil {
		return err
	} else if n > 0 {
		log.Info("configs sealed again with the current encryption key", slog.Int("documents", n))
	}
	bucket, err := volumes.OpenBucket(ctx, cfg.ArtifactStore)
	if err != nil {
		return err
	}
	defer bucket.Close()
	host, _ := os.Hostname()
	holder := fmt.Sprintf("%s-%d", host, os.Getpid())
	notifier := notify.New()
	policies := placer.New(st, policy.Limits{Timeout: cfg.PolicyTimeout}, log)
	schedule := notify.NewSignal() // the engine raises it, the scheduler listens
	vars, err := cfg.Creds.registry()
	if err != nil {
		return err
	}
	tokens := &idtoken.Issuer{Store: st, URL: cmp.Or(cfg.Creds.OIDCIssuerURL, cfg.ExternalURL), CheckInterval: cfg.Creds.KeyCheck,
		RotationPeriod: cfg.Creds.KeyRotation, GracePeriod: cfg.Creds.KeyGrace, Log: log.With(slog.String("part", "idtoken"))}
	vars.IDToken = tokens.NewSource
	eng := engine.New(st, notifier, engine.Options{Holder: holder, LeaseTTL: cfg.BuildLease, Placer: policies, Schedule: schedule, Creds: vars,
		MaxAcrossCombinations: cfg.MaxAcross, ExternalURL: cfg.ExternalURL, PlacementWait: cfg.PlacementWait, FairShare: cfg.FairShare}, log)
	sched := scheduler.New(st, log.With(slog.String("part", "scheduler")), scheduler.Options{Holder: holder, LeaseTTL: cfg.BuildLease, Started: eng.Wake, Wake: schedule})
	checks := checker.New(st, log.With(slog.String("part", "checker")), checker.Options{Started: eng.Wake})
	intercepts := &intercept.Broker{} // fly's side is the server's, the spoke's the gateway's
	spokes, err := gateway.New(ctx, gateway.Config{SpokeTokens: cfg.SpokeTokens, SpokeLease: cfg.SpokeLease, Artifacts: bucket, Creds: vars}, st, eng, notifier, intercepts,
		log.With(slog.String("part", "gateway")))
	if err != nil {
		return err
	}
	srv, err := server.New(ctx, server.Config{
		ExternalURL: cfg.ExternalURL, Users: cfg.Users, MainTeamUsers: cfg.MainUsers, TokenTTL: cfg.AuthDuration, CLIDir: cfg.CLIDir,
		OIDC: cfg.Signin, OIDCName: cfg.OIDC.DisplayName,
		Policies: policies, Artifacts: bucket, MaxUpload: cfg.MaxUpload, Intercepts: intercepts, Spokes: spokes, WellKnown: tokens.Handler(), Creds: vars,
		Metrics: hubMetrics(st), MetricsToken: cfg.MetricsToken,
	}, st, eng, notifier, log)
	if err != nil {
		return err
	}
	if cfg.DebugListen != "" {
		dbg, err := net.Listen("tcp", cfg.DebugListen)
		if err != nil {
			return err
		}
		debug := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second} // net/http/pprof registers there
		go func() { _ = debug.Serve(dbg) }()
		defer debug.Close()
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	httpSrv := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	log.Info("hub listening", slog.String("addr", ln.Addr().String()), slog.String("external_url", cfg.ExternalURL))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	gc := artifactgc.New(st, bucket, artifactgc.Options{Retention: cfg.ArtifactRetention}, log.With(slog.String("part", "artifact-gc")))
	reap := reaper.New(st, reaper.Options{Limits: cfg.Retention, ArchivedRetention: cfg.ArchivedRetention}, log.With(slog.String("part", "reaper")))
	wg.Add(7)
	go func() { defer wg.Done(); _ = reap.Run(ctx) }()
	go func() { defer wg.Done(); _ = gc.Run(ctx) }()
	go func() { defer wg.Done(); _ = tokens.Run(ctx) }()
	go func() { defer wg.Done(); _ = eng.Run(ctx) }()
	go func() { defer wg.Done(); _ = sched.Run(ctx) }()
	go func() { defer wg.Done(); _ = spokes.Run(ctx) }()
	go func() { defer wg.Done(); _ = checks.Run(ctx) }()
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	shutdown, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	_ = httpSrv.Shutdown(shutdown)
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// hubMetrics serves the hub's metrics, with the fleet's read from the store
// at scrape time.
func hubMetrics(st *store.Store) http.Handler {
	fleet := metrics.NewFleet(func(ctx context.Context) ([]metrics.FleetSpoke, error) {
		loads, err := st.SpokeLoads(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]metrics.FleetSpoke, len(loads))
		for i, l := range loads {
			out[i] = metrics.FleetSpoke{Name: l.Name, Team: l.TeamName, Tags: l.Tags, State: l.WorkerState(), Steps: l.Load.Steps, Tasks: l.Tasks}
		}
		return out, nil
	}, 5*time.Second)
	return promhttp.HandlerFor(metrics.Hub(fleet, metrics.DBConnections(st.Connections)), promhttp.HandlerOpts{})
}

// flushTraces exports the spans left as the process stops.
func flushTraces(stop func(context.Context) error, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := stop(ctx); err != nil {
		log.Warn("spans lost as the process stopped", slog.String("error", err.Error()))
	}
}

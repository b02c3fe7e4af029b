package spoke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/metrics"
	"github.com/switchyard-ci/switchyard/redact"
	"github.com/switchyard-ci/switchyard/spoke/runtime/local"
	"github.com/switchyard-ci/switchyard/telemetry"
	"github.com/switchyard-ci/switchyard/wire"
)

// Config is the agent's configuration.
type Config struct {
	HubURL   string
	Token    string // join token: decides the team or pool
	Name     string
	Runtime  string
	Labels   map[string]string
	Tags     []string
	Capacity wire.Capacity
	// CredentialFile keeps the credential the hub gives the spoke, so that the
	// spoke comes back after a restart as the same spoke (with its steps);
	// empty: kept in memory only, and a restarted spoke is a new identity.
	CredentialFile string
	// Artifacts: where build artifacts are kept; steps with input or output
	// artifacts error without it.
	Artifacts *Artifacts
}

// Runtime runs a step to its end.
type Runtime interface {
	Run(ctx context.Context, a wire.Assignment, logs local.Logs) wire.Result
}

// Sweeper is a runtime that can delete what steps the hub no longer has open
// left behind (a crashed spoke's pods).
type Sweeper interface {
	Sweep(ctx context.Context, open map[int64]bool) error
}

// Interceptor is a runtime that can run a process in a running step's
// container, for fly intercept.
type Interceptor interface {
	Intercept(ctx context.Context, a wire.Assignment, spec api.HijackProcessSpec, pio wire.ProcessIO) (exitStatus int, err error)
}

// Reattacher is a runtime that can take up a run a previous process of the
// spoke started (the kube runtime finds the step's pod by name). With other
// runtimes a started run that a restarted spoke finds is reported lost.
type Reattacher interface {
	Reattaches() bool
}

// Reaper is a runtime that can stop what a run a previous process of the
// spoke started left running (the local runtime's process group).
type Reaper interface {
	Reap(a wire.Assignment)
}

// sweepEvery is how often the agent asks a Sweeper to sweep.
const sweepEvery = 30 * time.Second

// Agent is one spoke. Create it with New and call Run.
type Agent struct {
	cfg      Config
	runtime  Runtime
	log      *slog.Logger
	http     *http.Client
	transfer *http.Client // artifacts: no overall timeout

	lastSweep time.Time // poll's goroutine only
	dirLocks  sync.Map  // artifact directory -> *sync.Mutex

	buildsMu  sync.Mutex
	buildRefs map[int64]int       // steps running per build
	buildUsed map[int64]time.Time // when a build's last step ended here

	retiring atomic.Bool // Retire was called: the hub removes the spoke once its steps are done
	landed   atomic.Bool // the hub landed the spoke (fly land-worker): Run returns
	leave    context.CancelFunc

	mu         sync.Mutex
	credential string
	lease      time.Duration
	running    map[int64]context.CancelFunc
	steps      map[int64]wire.Assignment // the running steps and recently failed ones, for intercepts
	failed     map[int64]time.Time       // failed steps, until when they may be intercepted
	intercepts map[int64]time.Time       // intercept sessions dialed for, and when
}

func New(cfg Config, rt Runtime, log *slog.Logger) *Agent {
	// Every running step reports over its own request: keep that many
	// connections to the hub open, not Go's default two, or a burst of
	// reports dials and closes connections by the hundred (8 % of a busy
	// spoke's CPU went to dialing).
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = maxHubConns
	return &Agent{cfg: cfg, runtime: rt, log: log, http: &http.Client{Timeout: 60 * time.Second, Transport: tr}, transfer: &http.Client{}, running: map[int64]context.CancelFunc{},
		steps: map[int64]wire.Assignment{}, failed: map[int64]time.Time{}, intercepts: map[int64]time.Time{},
		buildRefs: map[int64]int{}, buildUsed: map[int64]time.Time{}}
}

// maxHubConns is how many idle connections to the hub a spoke keeps.
const maxHubConns = 256

// Retire asks the hub to retire this spoke: it is given no new steps, the
// steps it runs go on, and once they are done the hub removes it; Run then
// returns instead of joining again.
func (a *Agent) Retire(ctx context.Context) error {
	if err := a.call(ctx, http.MethodPost, wire.PathRetire, struct{}{}, nil, true); err != nil {
		return fmt.Errorf("retire: %w", err)
	}
	a.retiring.Store(true)
	a.log.Info("retiring: no new steps; leaving once the running ones are done")
	return nil
}

// errRejoin says the hub no longer knows our credential.
var errRejoin = errors.New("hub does not know this spoke's credential")

// errStale says the hub gave the step to someone else: stop it.
var errStale = errors.New("step no longer ours")

// Run joins the hub and serves steps until ctx ends; it reconnects, with
// backoff, whenever the hub cannot be reached.
func (a *Agent) Run(ctx context.Context) error {
	ctx, a.leave = context.WithCancel(ctx)
	defer a.leave()
	var wg sync.WaitGroup
	defer wg.Wait()
	backoff := 250 * time.Millisecond
	for ctx.Err() == nil {
		if a.retiring.Load() {
			break // retired: the hub removed this spoke
		}
		if err := a.join(ctx); err != nil {
			a.log.Warn("join hub", slog.String("error", err.Error()))
			if !sleep(ctx, jitter(backoff)) {
				break
			}
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		backoff = 250 * time.Millisecond
		a.log.Info("joined hub", slog.String("hub", a.cfg.HubURL))
		hbCtx, stopHeartbeat := context.WithCancel(ctx)
		wg.Add(1)
		go func() { defer wg.Done(); a.heartbeat(hbCtx) }()
		err := a.poll(ctx, &wg)
		stopHeartbeat()
		if err != nil && ctx.Err() == nil {
			a.log.Warn("lost hub", slog.String("error", err.Error()))
			if !errors.Is(err, errRejoin) && !sleep(ctx, jitter(time.Second)) {
				break
			}
		}
	}
	a.mu.Lock()
	for _, cancel := range a.running {
		cancel()
	}
	a.mu.Unlock()
	return nil
}

func (a *Agent) join(ctx context.Context) error {
	a.mu.Lock()
	previous := a.credential
	a.mu.Unlock()
	if previous == "" && a.cfg.CredentialFile != "" {
		b, err := os.ReadFile(a.cfg.CredentialFile)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("read credential: %w", err)
		}
		previous = strings.TrimSpace(string(b))
	}
	var resp wire.JoinResponse
	err := a.call(ctx, http.MethodPost, wire.PathJoin, wire.JoinRequest{Token: a.cfg.Token, Name: a.cfg.Name, Runtime: a.cfg.Runtime, Labels: a.cfg.Labels,
		Tags: a.cfg.Tags, Capacity: a.cfg.Capacity, Credential: previous}, &resp, false)
	if err != nil {
		return err
	}
	if a.cfg.CredentialFile != "" {
		if err := writeSecret(a.cfg.CredentialFile, resp.Credential); err != nil {
			return fmt.Errorf("keep credential: %w", err)
		}
	}
	a.mu.Lock()
	a.credential, a.lease = resp.Credential, time.Duration(resp.LeaseSeconds)*time.Second
	a.mu.Unlock()
	return nil
}

// writeSecret replaces a file with a secret only its owner reads.
func writeSecret(path, secret string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(secret+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (a *Agent) heartbeat(ctx context.Context) {
	a.mu.Lock()
	every := max(a.lease/3, time.Second)
	a.mu.Unlock()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			var hb wire.Heartbeat
			if a.cfg.Artifacts != nil {
				for _, d := range a.cfg.Artifacts.Cache.TakeEvicted() {
					hb.Evicted = append(hb.Evicted, string(d))
				}
			}
			var resp wire.HeartbeatResponse
			if err := a.call(ctx, http.MethodPost, wire.PathHeartbeat, hb, &resp, true); err != nil && ctx.Err() == nil {
				a.log.Warn("renew lease", slog.String("error", err.Error()))
			}
			if resp.State == "landed" && a.landed.CompareAndSwap(false, true) {
				a.log.Info("landed: leaving the fleet (start the spoke again to take steps)")
				a.leave()
			}
		}
	}
}

// poll long-polls for assignments, starts new steps and stops the ones the hub
// no longer assigns (aborted). It returns when the hub cannot be reached.
func (a *Agent) poll(ctx context.Context, wg *sync.WaitGroup) error {
	for ctx.Err() == nil {
		a.mu.Lock()
		ids := make([]string, 0, len(a.running))
		for id := range a.running {
			ids = append(ids, strconv.FormatInt(id, 10))
		}
		var dialed []string
		for id := range a.intercepts {
			dialed = append(dialed, strconv.FormatInt(id, 10))
		}
		a.mu.Unlock()
		var steps wire.Steps
		q := url.Values{"running": {strings.Join(ids, ",")}, "intercepts": {strings.Join(dialed, ",")}, "wait": {"20s"}}
		if err := a.call(ctx, http.MethodGet, wire.PathSteps+"?"+q.Encode(), nil, &steps, true); err != nil {
			return err
		}
		a.mu.Lock()
		for _, as := range steps.New {
			if _, running := a.running[as.StepID]; running {
				continue
			}
			stepCtx, cancel := context.WithCancel(ctx)
			a.running[as.StepID] = cancel
			a.steps[as.StepID] = as
			wg.Add(1)
			go func() {
				defer wg.Done()
				failed := a.runStep(stepCtx, as)
				a.mu.Lock()
				delete(a.running, as.StepID)
				if failed {
					a.failed[as.StepID] = time.Now().Add(wire.KeepFailed)
				} else {
					delete(a.steps, as.StepID)
				}
				a.mu.Unlock()
				cancel()
			}()
		}
		for id, until := range a.failed {
			if time.Now().After(until) {
				delete(a.failed, id)
				delete(a.steps, id)
			}
		}
		for id, at := range a.intercepts {
			if time.Since(at) > 2*time.Minute {
				delete(a.intercepts, id) // the hub lists sessions for a minute
			}
		}
		for _, in := range steps.Intercepts {
			if _, dialed := a.intercepts[in.ID]; dialed {
				continue
			}
			a.intercepts[in.ID] = time.Now()
			wg.Add(1)
			go func() { defer wg.Done(); a.intercept(ctx, in) }()
		}
		open := map[int64]bool{}
		for _, id := range steps.Open {
			open[id] = true
		}
		for id, cancel := range a.running {
			if !open[id] {
				cancel() // aborted or given to someone else
			}
		}
		a.mu.Unlock()
		a.sweep(ctx, wg, open)
	}
	return nil
}

// sweep lets the runtime delete leftovers of steps that are not open, now
// and then, beside the polling.
func (a *Agent) sweep(ctx context.Context, wg *sync.WaitGroup, open map[int64]bool) {
	if time.Since(a.lastSweep) < sweepEvery {
		return
	}
	a.lastSweep = time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.sweepBuilds(); err != nil {
			a.log.Warn("sweep build directories", slog.String("error", err.Error()))
		}
		if sw, ok := a.runtime.(Sweeper); ok {
			if err := sw.Sweep(ctx, open); err != nil && ctx.Err() == nil {
				a.log.Warn("sweep", slog.String("error", err.Error()))
			}
		}
	}()
}

// runStep runs one step and reports its logs and result until the hub has
// them; it tells whether the step failed (and may be intercepted a while).
func (a *Agent) runStep(ctx context.Context, as wire.Assignment) (failed bool) {
	ctx, span := a.traceRun(ctx, &as)
	defer span.End()
	if as.Started && !a.reattaches() {
		return a.reportLost(ctx, as)
	}
	metrics.StepsRunning.Inc()
	defer metrics.StepsRunning.Dec()
	rep := newReporter(a, as)
	go rep.run(ctx)
	rep.started()
	// The step's secrets never leave the spoke in its output or its error.
	secrets := redact.New(as.Redact)
	out := redact.NewWriter(rep, secrets)
	res := a.run(ctx, as, out)
	out.Flush()
	res.Error = secrets.Redact(res.Error)
	res.Lines, res.Started = rep.close()
	endRun(span, as, res)
	a.log.InfoContext(ctx, "step finished", slog.String("step", as.Request.Name), slog.Int("exit_status", res.ExitStatus), slog.Bool("errored", res.Error != ""))
	if ctx.Err() != nil {
		return false // aborted: the hub already marked the step
	}
	res.Fence = as.Fence
	path := strings.Replace(wire.PathResult, "{id}", strconv.FormatInt(as.StepID, 10), 1)
	a.retry(ctx, "report result", func() error { return a.call(ctx, http.MethodPost, path, res, nil, true) })
	return res.Error == "" && res.ExitStatus != 0
}

func (a *Agent) reattaches() bool {
	r, ok := a.runtime.(Reattacher)
	return ok && r.Reattaches()
}

// reportLost ends a run that a previous process of this spoke started and
// that this runtime cannot take up: what it left running is stopped, and the
// hub runs the step again as a new run, whose log starts afresh.
func (a *Agent) reportLost(ctx context.Context, as wire.Assignment) bool {
	if r, ok := a.runtime.(Reaper); ok {
		r.Reap(as)
	}
	a.log.WarnContext(ctx, "run lost with a previous spoke process")
	res := wire.Result{Fence: as.Fence, Lost: true,
		Error: fmt.Sprintf("spoke %s restarted while the step ran: the run's process ended with the spoke's, so the run is lost", a.cfg.Name)}
	path := strings.Replace(wire.PathResult, "{id}", strconv.FormatInt(as.StepID, 10), 1)
	a.retry(ctx, "report lost run", func() error { return a.call(ctx, http.MethodPost, path, res, nil, true) })
	return false
}

// run runs a step with its artifacts: inputs fetched before, outputs stored
// after.
func (a *Agent) run(ctx context.Context, as wire.Assignment, logs local.Logs) wire.Result {
	defer a.useBuild(as.BuildID)()
	fail := func(err error) wire.Result {
		if ctx.Err() != nil {
			return wire.Result{Error: "aborted"}
		}
		return wire.Result{Error: err.Error()}
	}
	if err := as.Request.CheckPaths(); err != nil {
		return fail(fmt.Errorf("refused: %w", err))
	}
	if a.cfg.Artifacts == nil && len(as.Request.Artifacts) > 0 {
		return fail(errors.New("this spoke keeps no artifacts"))
	}
	var fetched []string
	if len(as.Request.Artifacts) > 0 {
		var err error
		if fetched, err = a.fetchInputs(ctx, as, logs); err != nil {
			return fail(err)
		}
	}
	res := a.runtime.Run(ctx, as, logs)
	res.Fetched = fetched
	if res.Error != "" || res.ExitStatus != 0 || len(res.Outputs) == 0 {
		return res
	}
	if a.cfg.Artifacts == nil {
		return fail(errors.New("this spoke keeps no artifacts, so the step's outputs are lost"))
	}
	if err := a.storeOutputs(ctx, as, &res); err != nil {
		out := fail(fmt.Errorf("store outputs: %w", err))
		out.Fetched = fetched
		return out
	}
	return res
}

// retry calls fn until it succeeds, the step is stale, or ctx ends.
func (a *Agent) retry(ctx context.Context, what string, fn func() error) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := fn()
		if err == nil || errors.Is(err, errStale) {
			return
		}
		a.log.WarnContext(ctx, what, slog.String("error", err.Error()))
		if !sleep(ctx, jitter(backoff)) {
			return
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// call sends a request to the hub and decodes its answer into out.
func (a *Agent) call(ctx context.Context, method, path string, body, out any, auth bool) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(a.cfg.HubURL, "/")+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if tp := telemetry.Inject(ctx); tp != nil { // the hub's log lines about the request join the run's trace
		req.Header.Set("Traceparent", tp["TRACEPARENT"])
	}
	if auth {
		a.mu.Lock()
		req.Header.Set("Authorization", "Bearer "+a.credential)
		a.mu.Unlock()
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized && auth:
		return errRejoin
	case (resp.StatusCode == http.StatusConflict || resp.StatusCode == http.StatusNotFound) && auth:
		return errStale
	case resp.StatusCode >= 300:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(msg)))
	}
	if out != nil && resp.StatusCode != http.StatusNoContent { // a hub of an older version answers some calls with no body
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

func jitter(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

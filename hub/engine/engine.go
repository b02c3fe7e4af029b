package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/creds"
	"github.com/switchyard-ci/switchyard/hub/keyed"
	"github.com/switchyard-ci/switchyard/hub/notify"
	"github.com/switchyard-ci/switchyard/hub/placer"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/telemetry"
)

// Notifier wakes waiters in this process; the server's Notifier fits.
type Notifier interface {
	Watch(key string) <-chan struct{}
	Notify(key string)
}

// Engine runs the builds of the store. Create it with New and call Run.
type Engine struct {
	store  *store.Store
	notify Notifier
	log    *slog.Logger
	holder string        // this hub's name in build leases
	ttl    time.Duration // how long a build lease lasts unrenewed

	wake     chan struct{}
	mu       sync.Mutex
	running  map[int64]bool
	schedule *notify.Signal // wakes the scheduler
	placer   *placer.Placer
	creds    *creds.Registry
	// maxAcross bounds the runs of one across step (0: the default).
	maxAcross int
	// placing holds a lock per team over a step's decision (no database
	// round trip): a team's steps are decided one at a time, each counting
	// the steps decided before it (inflight until they are stored), and a
	// team whose policies are slow delays only its own steps. Across teams
	// (and hub replicas) the step's creation checks its spoke's room
	// (store.ErrSpokeFull).
	placing  keyed.Locks // by team id
	inflight inflight
	// creating holds a lock per spoke over creating a step there: creating
	// checks the spoke's room in a serializable transaction, and this hub's
	// own steps queue for it instead of failing each other's transactions.
	creating keyed.Locks // by spoke id
	watcher  *watcher
	// externalURL is where users reach the hub: builds' URLs in traces.
	externalURL string
	// placementWait bounds a step's wait for a spoke (0: none).
	placementWait time.Duration
	// fairShare orders the steps that wait for room; fair holds them.
	fairShare FairShare
	fair      *fairQueue
}

// DefaultLeaseTTL is how long a hub owns a build without renewing; another
// replica takes over a build whose owner died after this.
const DefaultLeaseTTL = 15 * time.Second

// Options are the parts and settings an engine is given.
type Options struct {
	Holder   string          // this hub's name in build leases
	LeaseTTL time.Duration   // how long a build lease lasts unrenewed (default DefaultLeaseTTL)
	Placer   *placer.Placer  // the policies in force, which place every step
	Schedule *notify.Signal  // raised when jobs asked to be scheduled; the scheduler listens (nil: nobody)
	Creds    *creds.Registry // resolves the builds' ((vars)) (nil: nothing defines any)
	// MaxAcrossCombinations bounds the runs of one across step (default
	// DefaultMaxAcrossCombinations).
	MaxAcrossCombinations int
	// ExternalURL is where users reach the hub, for builds' URLs in traces.
	ExternalURL string
	// PlacementWait bounds how long a step waits for a spoke that can run
	// it before it errors with the reason (0: as long as it takes).
	PlacementWait time.Duration
	// FairShare orders the steps that wait for room (default FairDRF).
	FairShare FairShare
}

// New makes an engine.
func New(st *store.Store, n Notifier, o Options, log *slog.Logger) *Engine {
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.Schedule == nil {
		o.Schedule = notify.NewSignal()
	}
	if o.Creds == nil {
		o.Creds = &creds.Registry{}
	}
	if o.FairShare == "" {
		o.FairShare = FairDRF
	}
	return &Engine{store: st, notify: n, log: log, holder: o.Holder, ttl: o.LeaseTTL, wake: make(chan struct{}, 1), running: map[int64]bool{},
		schedule: o.Schedule, placer: o.Placer, watcher: newWatcher(), creds: o.Creds, maxAcross: o.MaxAcrossCombinations, externalURL: o.ExternalURL, placementWait: o.PlacementWait,
		fairShare: o.FairShare, fair: newFairQueue()}
}

// WakeScheduler tells the scheduler that jobs asked to be scheduled (a build
// finished, versions were saved, someone triggered or pinned).
func (e *Engine) WakeScheduler() { e.schedule.Raise() }

// Wake tells the engine something changed for a build (created, aborted, a step
// finished).
func (e *Engine) Wake(buildID int64) {
	e.notify.Notify(buildKey(buildID))
	e.mu.Lock()
	running := e.running[buildID]
	e.mu.Unlock()
	if running {
		return // its runner got the notification
	}
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// StepEnded tells the engine that a build's step ended, as stored: the
// step's waiter in this process takes the end without reading it back.
func (e *Engine) StepEnded(buildID, stepID int64, state store.StepState, result json.RawMessage) {
	e.watcher.end(stepID, stepEnd{state: state, result: result})
	e.Wake(buildID)
}

func buildKey(id int64) string { return "engine/build/" + strconv.FormatInt(id, 10) }

func abortKey(id int64) string { return "engine/abort/" + strconv.FormatInt(id, 10) }

// WakeAbort tells the engine someone asked to abort a build.
func (e *Engine) WakeAbort(buildID int64) {
	e.notify.Notify(abortKey(buildID))
	e.Wake(buildID)
}

// Run starts every active build it can own and keeps doing so until ctx ends;
// it then waits for its build goroutines to stop.
func (e *Engine) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	wg.Add(1)
	go func() { defer wg.Done(); e.watch(ctx) }()
	if e.fairShare != FairFIFO {
		wg.Add(1)
		go func() { defer wg.Done(); e.fairRounds(ctx) }()
	}
	for {
		ids, err := e.store.ActiveBuilds(ctx)
		if err != nil && ctx.Err() == nil {
			e.log.Error("list active builds", slog.String("error", err.Error()))
		}
		var idle []int64
		e.mu.Lock()
		for _, id := range ids {
			if !e.running[id] {
				e.running[id] = true
				idle = append(idle, id)
			}
		}
		e.mu.Unlock()
		// Builds that wait are taken together, a batch at a time: a burst of
		// triggers starts in a few transactions, not three each.
		for len(idle) > 0 {
			batch := idle[:min(len(idle), takeBatch)]
			idle = idle[len(batch):]
			taken, err := e.store.TakeBuilds(ctx, batch, e.holder, e.ttl, statusEvent(api.BuildStarted))
			if err != nil && ctx.Err() == nil {
				e.log.Error("take builds", slog.String("error", err.Error()))
			}
			ours := map[int64]bool{}
			for _, t := range taken {
				ours[t.Build.ID] = true
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { e.mu.Lock(); delete(e.running, t.Build.ID); e.mu.Unlock() }()
					e.own(ctx, t)
				}()
			}
			e.mu.Lock()
			for _, id := range batch {
				if !ours[id] {
					delete(e.running, id) // another replica runs it, or it finished
				}
			}
			e.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-e.wake:
		case <-tick.C:
		}
	}
}

// takeBatch is how many builds one transaction takes.
const takeBatch = 500

// own runs a build this hub took while renewing its lease, and gives the
// lease up at the end.
func (e *Engine) own(ctx context.Context, t store.TakenBuild) {
	id := t.Build.ID
	ctx = t.Build.Trace().Context(telemetry.WithAttrs(ctx, slog.Int64("build_id", id)))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		tick := time.NewTicker(e.ttl / 3)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if _, ok, err := e.store.AcquireLease(ctx, t.Lease.Name, e.holder, e.ttl); err == nil && !ok {
					e.log.WarnContext(ctx, "lost build lease")
					cancel()
					return
				}
			}
		}
	}()
	if err := e.runBuild(ctx, t); err != nil && ctx.Err() == nil {
		e.log.ErrorContext(ctx, "run build", slog.String("error", err.Error()))
	}
	if err := e.store.ReleaseLease(context.WithoutCancel(ctx), t.Lease); err != nil {
		e.log.WarnContext(ctx, "release build lease (it expires on its own)", slog.String("error", err.Error()))
	}
}

// runBuild runs a build that was taken (its fence bumped, started if it was
// pending): it replays its plan and records the final status.
func (e *Engine) runBuild(ctx context.Context, t store.TakenBuild) error {
	b, fence, fresh, id := t.Build, t.Fence, t.Fresh, t.Build.ID
	r := &run{e: e, build: b, fence: fence, fresh: fresh, life: ctx, versionFrom: map[string]map[string]string{}}
	r.leaf, r.say = r.runLeaf, r.errorEvent
	if fresh {
		e.notify.Notify(notify.EventsKey(id))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go r.watchAbort(ctx, cancel, t.Aborted)
	// The build's keys are notified once more as it ends, which drops what
	// their watchers left behind.
	defer e.notify.Notify(abortKey(id))
	defer e.notify.Notify(buildKey(id))

	status, err := r.execute(ctx)
	if ctx.Err() != nil && !r.aborted.Load() {
		return ctx.Err() // the hub is stopping: leave the build for the next owner
	}
	var said stepError
	if err != nil && !errors.As(err, &said) {
		r.errorEvent(context.WithoutCancel(ctx), r.rootID(), err.Error())
	}
	if err := e.store.FinishBuild(context.WithoutCancel(ctx), id, b.JobID, fence, status, r.outputs, statusEvent(status)); err != nil {
		return fmt.Errorf("finish build: %w", err)
	}
	r.ended(ctx, status, err)
	e.log.InfoContext(ctx, "build finished", slog.String("status", string(status)))
	e.notify.Notify(notify.EventsKey(id))
	e.WakeScheduler()
	return nil
}

package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/scheduler"
	"github.com/switchyard-ci/switchyard/hub/setpipeline"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
	"github.com/switchyard-ci/switchyard/pipeline"
)

// world is a pipeline in a real store, scheduled by hand: builds are started
// and finished as the engine would, without spokes.
type world struct {
	t        testing.TB
	ctx      context.Context
	st       *store.Store
	sched    *scheduler.Scheduler
	pipeline store.Pipeline
}

func newWorld(t *testing.T, config string) *world {
	t.Helper()
	st := storetest.New(t)
	team, err := st.SaveTeam(context.Background(), "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	return newWorldIn(t, st, team.ID, "p", config)
}

// newWorldIn saves and unpauses a pipeline in a store.
func newWorldIn(t testing.TB, st *store.Store, teamID int64, name, config string) *world {
	t.Helper()
	ctx := t.Context()
	loaded, err := pipeline.Load([]byte(config), pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	params, err := setpipeline.Params(loaded)
	if err != nil {
		t.Fatal(err)
	}
	params.TeamID, params.Name = teamID, name
	saved, err := st.SavePipeline(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	unpaused := false
	if err := st.UpdatePipeline(ctx, saved.ID, store.PipelineChange{Paused: &unpaused}); err != nil {
		t.Fatal(err)
	}
	p, err := st.PipelineByID(ctx, saved.ID)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &world{t: t, ctx: ctx, st: st, pipeline: p, sched: scheduler.New(st, log, scheduler.Options{Holder: "test"})}
}

func (w *world) resource(name string) store.Resource {
	w.t.Helper()
	r, err := w.st.ResourceByName(w.ctx, w.pipeline.ID, name)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

func (w *world) job(name string) store.Job {
	w.t.Helper()
	j, err := w.st.JobByName(w.ctx, w.pipeline.ID, name)
	if err != nil {
		w.t.Fatal(err)
	}
	return j
}

// check saves versions of a resource as a check would.
func (w *world) check(resource string, versions ...string) {
	w.t.Helper()
	var vs []map[string]string
	for _, v := range versions {
		vs = append(vs, map[string]string{"ver": v})
	}
	if err := w.st.SaveVersions(w.ctx, w.resource(resource).ID, vs, nil); err != nil {
		w.t.Fatal(err)
	}
}

// schedule handles every request until none is left.
func (w *world) schedule() {
	w.t.Helper()
	for range 20 {
		jobs, err := w.st.RequestedJobs(w.ctx, 100)
		if err != nil {
			w.t.Fatal(err)
		}
		if len(jobs) == 0 {
			return
		}
		if err := w.sched.Tick(w.ctx); err != nil {
			w.t.Fatal(err)
		}
	}
	w.t.Fatal("scheduling requests keep coming")
}

// builds lists a job's builds oldest first (in build order) as "name:status[:ver,...]", the
// versions being its inputs' by input name, for builds that got them.
func (w *world) builds(job string) []string {
	w.t.Helper()
	bs, err := w.st.Builds(w.ctx, store.BuildFilter{JobID: w.job(job).ID}, store.Page{Limit: 100})
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, b := range slices.Backward(bs) {
		out = append(out, w.describe(b))
	}
	return out
}

func (w *world) describe(b store.Build) string {
	io, err := w.st.BuildResources(w.ctx, b.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	status := string(b.Status)
	if status == "pending" {
		full, err := w.st.Build(w.ctx, b.ID) // lists leave the plan out
		if err != nil {
			w.t.Fatal(err)
		}
		if full.Plan != nil && string(full.Plan) != "null" {
			status = "ready"
		}
	}
	s := b.Name + ":" + status
	var vers []string
	for _, in := range io.Inputs {
		vers = append(vers, in.Name+"="+in.Version["ver"])
	}
	if len(vers) > 0 {
		s += ":" + strings.Join(vers, ",")
	}
	return s
}

// finish runs a build the scheduler let run to the given status, as the
// engine does, putting versions of resources on the way.
func (w *world) finish(job, name, status string, puts ...store.RecordedOutput) {
	w.t.Helper()
	b, err := w.st.JobBuildByName(w.ctx, w.job(job).ID, name)
	if err != nil {
		w.t.Fatal(err)
	}
	ev := store.Event{Type: "status", Version: "1.0", Payload: json.RawMessage(`{}`)}
	fence := storetest.Take(w.t, w.st, b.ID, ev)
	if err := w.st.FinishBuild(w.ctx, b.ID, b.JobID, fence, api.BuildStatus(status), puts, ev); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) expect(job string, want ...string) {
	w.t.Helper()
	if got := w.builds(job); !slices.Equal(got, want) {
		w.t.Errorf("builds of %s:\n got  %q\n want %q", job, got, want)
	}
}

const chain = `
resources:
- {name: repo, type: mock}
- {name: other, type: mock}
jobs:
- name: unit
  plan:
  - get: repo
    trigger: true
- name: deploy
  plan:
  - get: repo
    trigger: true
    passed: [unit]
  - get: other
`

// A new version triggers the first job; its success triggers the next with
// the same version; a failure does not.
func TestTriggerAndPassed(t *testing.T) {
	w := newWorld(t, chain)
	w.check("other", "o1")
	w.schedule()
	w.expect("unit")
	w.check("repo", "r1")
	w.schedule()
	w.expect("unit", "1:ready:repo=r1")
	w.expect("deploy")
	w.finish("unit", "1", "succeeded")
	w.schedule()
	w.expect("deploy", "1:ready:other=o1,repo=r1")

	w.check("repo", "r2")
	w.schedule()
	w.expect("unit", "1:succeeded:repo=r1", "2:ready:repo=r2")
	w.finish("unit", "2", "failed")
	w.schedule()
	w.expect("deploy", "1:ready:other=o1,repo=r1") // r2 did not pass unit

	// Nothing new: scheduling again creates nothing.
	if err := w.st.RequestSchedule(w.ctx, w.job("unit").ID); err != nil {
		t.Fatal(err)
	}
	w.schedule()
	w.expect("unit", "1:succeeded:repo=r1", "2:failed:repo=r2")
}

// Non-trigger inputs do not create builds; a manual trigger takes the latest
// versions; a trigger whose inputs do not resolve waits and says why.
func TestManualTriggerAndPreparation(t *testing.T) {
	w := newWorld(t, chain)
	w.check("other", "o1")
	deploy := w.job("deploy")
	b, err := w.st.CreateJobBuild(w.ctx, deploy.ID, "me", true, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	w.schedule()
	w.expect("deploy", "1:pending")
	next, err := w.st.JobNextInputs(w.ctx, deploy.ID)
	if err != nil {
		t.Fatal(err)
	}
	e := next.Errors["repo"]
	if next.Determined || e.Reason != "no satisfiable builds from passed jobs found for set of inputs" ||
		!strings.Contains(e.Detail, "passed job unit has no succeeded build yet") || !strings.Contains(e.Detail, "fly trigger-job -j p/unit") {
		t.Errorf("resolution of deploy: %+v", next)
	}
	prep, err := w.st.BuildPreparation(w.ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if prep.Scheduled || prep.Next.Errors["repo"].Reason == "" {
		t.Errorf("preparation: %+v", prep)
	}

	w.check("repo", "r1")
	w.schedule()
	w.finish("unit", "1", "succeeded")
	w.schedule()
	w.expect("deploy", "1:ready:other=o1,repo=r1") // the pending manual build got them
	w.check("other", "o2")                         // not a trigger
	w.schedule()
	w.expect("deploy", "1:ready:other=o1,repo=r1")
}

// serial and max_in_flight hold builds back until room is made, oldest first;
// a pending build takes the newest inputs when it starts.
func TestSerialAndMaxInFlight(t *testing.T) {
	w := newWorld(t, `
resources:
- {name: repo, type: mock}
jobs:
- name: serial
  serial: true
  plan: [{get: repo, trigger: true}]
- name: two
  max_in_flight: 2
  plan: [{get: repo}]
`)
	w.check("repo", "r1")
	w.schedule()
	w.expect("serial", "1:ready:repo=r1")
	w.check("repo", "r2")
	w.schedule()
	w.check("repo", "r3")
	w.schedule()
	w.expect("serial", "1:ready:repo=r1", "2:pending") // one automatic build waits, not two
	w.finish("serial", "1", "succeeded")
	w.schedule()
	w.expect("serial", "1:succeeded:repo=r1", "2:ready:repo=r3")

	two := w.job("two")
	for range 3 {
		if _, err := w.st.CreateJobBuild(w.ctx, two.ID, "me", true, nil, ""); err != nil {
			t.Fatal(err)
		}
	}
	w.schedule()
	w.expect("two", "1:ready:repo=r3", "2:ready:repo=r3", "3:pending")
	w.finish("two", "2", "failed")
	w.schedule()
	w.expect("two", "1:ready:repo=r3", "2:failed:repo=r3", "3:ready:repo=r3")
}

// More builds waiting than one round reads: the round starts the ones it
// read and asks for another, which starts the rest, without waiting for
// anything else to ask.
func TestManyPendingBuildsStartInRounds(t *testing.T) {
	w := newWorld(t, `
jobs:
- name: many
  plan: [{task: t, config: {platform: linux, run: {path: "true"}}}]
`)
	many := w.job("many")
	var wg sync.WaitGroup
	for range store.PendingPerRound + 50 {
		wg.Go(func() {
			if _, err := w.st.CreateJobBuild(w.ctx, many.ID, "me", true, nil, ""); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	out, err := w.sched.ScheduleJob(w.ctx, many.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Started) != store.PendingPerRound || !out.Again {
		t.Fatalf("first round: started %d, again %v; want %d and another round", len(out.Started), out.Again, store.PendingPerRound)
	}
	jobs, err := w.st.RequestedJobs(w.ctx, 10)
	if err != nil || len(jobs) != 1 || jobs[0].ID != many.ID {
		t.Fatalf("after the first round the job should ask again: %+v, %v", jobs, err)
	}
	if out, err = w.sched.ScheduleJob(w.ctx, many.ID); err != nil {
		t.Fatal(err)
	}
	if len(out.Started) != 50 || out.Again {
		t.Fatalf("second round: started %d, again %v; want the other 50 and no more rounds", len(out.Started), out.Again)
	}
	bs, err := w.st.Builds(w.ctx, store.BuildFilter{JobID: many.ID}, store.Page{Limit: store.PendingPerRound + 100})
	if err != nil || len(bs) != store.PendingPerRound+50 {
		t.Fatalf("%d builds, %v", len(bs), err)
	}
	for _, b := range bs {
		if d := w.describe(b); !strings.HasSuffix(d, ":ready") {
			t.Fatalf("build %s was not started", d)
		}
	}
}

// Jobs sharing a serial group run one build at a time between them, oldest first.
func TestSerialGroups(t *testing.T) {
	w := newWorld(t, `
resources:
- {name: repo, type: mock}
jobs:
- name: a
  serial_groups: [deploys]
  plan: [{get: repo, trigger: true}]
- name: b
  serial_groups: [deploys]
  plan: [{get: repo, trigger: true}]
`)
	w.check("repo", "r1")
	w.schedule()
	a, b := w.builds("a"), w.builds("b")
	if len(a) != 1 || len(b) != 1 || (a[0] == "1:pending") == (b[0] == "1:pending") {
		t.Fatalf("one of the group should run and the other wait: a %q, b %q", a, b)
	}
	first, second := "a", "b"
	if a[0] == "1:pending" {
		first, second = "b", "a"
	}
	w.finish(first, "1", "succeeded")
	w.schedule()
	w.expect(second, "1:ready:repo=r1")
}

// Paused jobs and pipelines get no builds; unpausing schedules what was missed.
func TestPaused(t *testing.T) {
	w := newWorld(t, chain)
	unit := w.job("unit")
	if err := w.st.SetJobPaused(w.ctx, unit.ID, true, "me"); err != nil {
		t.Fatal(err)
	}
	w.check("repo", "r1")
	w.schedule()
	w.expect("unit")
	if err := w.st.SetJobPaused(w.ctx, unit.ID, false, ""); err != nil {
		t.Fatal(err)
	}
	w.schedule()
	w.expect("unit", "1:ready:repo=r1")

	paused := true
	if err := w.st.UpdatePipeline(w.ctx, w.pipeline.ID, store.PipelineChange{Paused: &paused}); err != nil {
		t.Fatal(err)
	}
	w.check("repo", "r2")
	if _, err := w.st.CreateJobBuild(w.ctx, unit.ID, "me", true, nil, ""); err != nil {
		t.Fatal(err)
	}
	w.schedule()
	w.expect("unit", "1:ready:repo=r1", "2:pending")
	paused = false
	if err := w.st.UpdatePipeline(w.ctx, w.pipeline.ID, store.PipelineChange{Paused: &paused}); err != nil {
		t.Fatal(err)
	}
	w.schedule()
	w.expect("unit", "1:ready:repo=r1", "2:ready:repo=r2")
}

// version: every gives each version its own build, in check order, from
// the latest one when the job starts (as Concourse does).
func TestEvery(t *testing.T) {
	w := newWorld(t, `
resources:
- {name: repo, type: mock}
jobs:
- name: each
  plan: [{get: repo, trigger: true, version: every}]
`)
	w.check("repo", "r0", "r1")
	w.schedule()
	w.expect("each", "1:ready:repo=r1")
	w.check("repo", "r2", "r3")
	w.schedule()
	w.expect("each", "1:ready:repo=r1", "2:ready:repo=r2", "3:ready:repo=r3")
}

// Pins through the API and in the get step choose the version; a disabled
// version is skipped; unpinning goes back to the latest.
func TestPinsAndDisabledVersions(t *testing.T) {
	w := newWorld(t, `
resources:
- {name: repo, type: mock}
jobs:
- name: j
  plan: [{get: repo, trigger: true}]
- name: fixed
  plan: [{get: repo, trigger: true, version: {ver: r1}}]
`)
	w.check("repo", "r1", "r2", "r3")
	w.schedule()
	w.expect("j", "1:ready:repo=r3")
	w.expect("fixed", "1:ready:repo=r1")
	repo := w.resource("repo")
	vs, err := w.st.VersionPage(w.ctx, repo.ID, store.Page{}, map[string]string{"ver": "r2"})
	if err != nil || len(vs) != 1 {
		t.Fatalf("filter versions: %v %v", vs, err)
	}
	if err := w.st.PinVersion(w.ctx, repo.ID, vs[0].ID); err != nil {
		t.Fatal(err)
	}
	w.schedule()
	w.expect("j", "1:ready:repo=r3", "2:ready:repo=r2")
	if err := w.st.UnpinResource(w.ctx, repo.ID); err != nil {
		t.Fatal(err)
	}
	top, err := w.st.VersionPage(w.ctx, repo.ID, store.Page{Limit: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.st.SetVersionEnabled(w.ctx, repo.ID, top[0].ID, false); err != nil {
		t.Fatal(err)
	}
	w.schedule()
	w.expect("j", "1:ready:repo=r3", "2:ready:repo=r2") // r3 disabled, r2 used already
	if err := w.st.SetVersionEnabled(w.ctx, repo.ID, top[0].ID, true); err != nil {
		t.Fatal(err)
	}
	w.schedule()
	w.expect("j", "1:ready:repo=r3", "2:ready:repo=r2") // r3 was used by build 1: not new
}

// A rerun gets its original's inputs, whatever is newest now.
func TestRerun(t *testing.T) {
	w := newWorld(t, chain)
	w.check("repo", "r1")
	w.schedule()
	w.finish("unit", "1", "failed")
	w.check("repo", "r2")
	w.schedule()
	orig, err := w.st.JobBuildByName(w.ctx, w.job("unit").ID, "1")
	if err != nil {
		t.Fatal(err)
	}
	rerun, err := w.st.CreateRerun(w.ctx, orig, "me", "")
	if err != nil {
		t.Fatal(err)
	}
	w.schedule()
	if rerun.Name != "1.1" {
		t.Errorf("rerun name %q", rerun.Name)
	}
	w.expect("unit", "1:failed:repo=r1", "1.1:ready:repo=r1", "2:ready:repo=r2") // a rerun next to its original, as Concourse lists
}

// Two schedulers on one store (two hubs) handle every request exactly once:
// each version gets one build.
func TestTwoSchedulersScheduleOnce(t *testing.T) {
	w := newWorld(t, `
resources:
- {name: repo, type: mock}
jobs:
- name: each
  plan: [{get: repo, trigger: true, version: every}]
`)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// Lease TTL tiny: both take every pipeline lease in turn, so both race.
	other := scheduler.New(w.st, log, scheduler.Options{Holder: "other", LeaseTTL: 1})
	mine := scheduler.New(w.st, log, scheduler.Options{Holder: "mine", LeaseTTL: 1})
	for i := range 10 {
		w.check("repo", fmt.Sprintf("r%02d", i))
		var wg sync.WaitGroup
		for _, s := range []*scheduler.Scheduler{mine, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 5 {
					if err := s.Tick(w.ctx); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
	}
	w.schedule()
	got := w.builds("each")
	if len(got) != 10 {
		t.Fatalf("%d builds for 10 versions: %q", len(got), got)
	}
	seen := map[string]bool{}
	for _, b := range got {
		v := b[strings.LastIndex(b, "=")+1:]
		if seen[v] {
			t.Errorf("version %s built twice: %q", v, got)
		}
		seen[v] = true
	}
}

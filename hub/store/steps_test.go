package store_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
)

// buildAndSpoke starts a store with a job's build and a spoke.
func buildAndSpoke(t *testing.T) (*store.Store, store.Build, store.Spoke) {
	t.Helper()
	ctx := t.Context()
	s := storetest.New(t)
	b, err := s.CreateJobBuild(ctx, newJob(t, s), "test", true, json.RawMessage(`{"id":"1"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	j, err := s.RegisterSpoke(ctx, store.SpokeRegistration{Name: "spoke-1", Runtime: "local", CredentialHash: "hash"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return s, b, j.Spoke
}

func TestStepReports(t *testing.T) {
	ctx := t.Context()
	s, b, sp := buildAndSpoke(t)
	key := store.StepKey{BuildID: b.ID, PlanID: "2", Attempt: 1}
	init := store.Event{Type: "initialize-task", Version: "4.0", Payload: json.RawMessage(`{}`)}
	placed := &store.PlacementDecision{PlanID: "2", StepName: "unit", Spoke: "spoke-1", Decision: json.RawMessage(`{"spoke":"spoke-1"}`)}
	st, err := s.EnsureStep(ctx, key, b.Fence, store.NewStep{Kind: "task", SpokeID: sp.ID, Request: json.RawMessage(`{}`), CPU: 1.5, Memory: 1 << 30, Placement: placed}, init)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.EnsureStep(ctx, key, b.Fence, store.NewStep{Kind: "task", SpokeID: sp.ID, Request: json.RawMessage(`{}`), CPU: 1.5, Memory: 1 << 30, Placement: placed}, init)
	if err != nil || again.ID != st.ID {
		t.Fatalf("second EnsureStep: %+v, %v; want the same step", again, err)
	}
	// The step's events and placement were recorded with it, once.
	if evs, err := s.Events(ctx, b.ID, 0, 10); err != nil || len(evs) != 1 || evs[0].Type != "initialize-task" {
		t.Errorf("events after creating the step twice: %+v, %v; want one initialize-task", evs, err)
	}
	if ps, err := s.Placements(ctx, b.ID); err != nil || len(ps) != 1 || ps[0].Spoke != "spoke-1" || ps[0].StepName != "unit" {
		t.Errorf("placements: %+v, %v; want the one decision", ps, err)
	}
	if _, err := s.EnsureStep(ctx, store.StepKey{BuildID: b.ID, PlanID: "4", Attempt: 1}, b.Fence, store.NewStep{Kind: "get", SpokeID: sp.ID, Request: json.RawMessage(`{}`), Memory: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	spokes, err := s.SpokeLoads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	loads := map[int64]store.Load{}
	for _, sl := range spokes {
		loads[sl.ID] = sl.Load
	}
	if diff := cmp.Diff(map[int64]store.Load{sp.ID: {Steps: 2, CPU: 1.5, Memory: 1<<30 + 1<<20}}, loads); diff != "" {
		t.Errorf("open step loads (-want +got):\n%s", diff)
	}
	if _, err := s.EnsureStep(ctx, store.StepKey{BuildID: b.ID, PlanID: "3", Attempt: 1}, b.Fence+1, store.NewStep{Kind: "task", SpokeID: sp.ID, Request: json.RawMessage(`{}`)}, init); !errors.Is(err, store.ErrStale) {
		t.Fatalf("EnsureStep with a stale build fence: %v", err)
	}

	line := func(seq int64) store.LogLine {
		return store.LogLine{Seq: seq, Event: store.Event{Type: "log", Version: "5.1", Payload: json.RawMessage(`{"payload":"` + strconv.FormatInt(seq, 10) + `"}`)}}
	}
	rep := store.StepReport{StepID: st.ID, SpokeID: sp.ID, Fence: st.Fence}
	running := store.Event{Type: "start-task", Version: "5.0", Payload: json.RawMessage(`{}`)}
	// The spoke sends 1-3, the connection drops, and it resends 2-5.
	if _, err := s.ReportStep(ctx, rep, []store.LogLine{line(1), line(2), line(3)}, running, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReportStep(ctx, rep, []store.LogLine{line(2), line(3), line(4), line(5)}, running, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReportStep(ctx, rep, []store.LogLine{line(7)}, running, nil); err == nil {
		t.Fatal("a gap in log lines was accepted")
	}
	stale := rep
	stale.Fence++
	if _, err := s.ReportStep(ctx, stale, []store.LogLine{line(6)}, running, nil); !errors.Is(err, store.ErrStale) {
		t.Fatalf("stale fence: %v", err)
	}
	other := rep
	other.SpokeID++
	if _, err := s.ReportStep(ctx, other, nil, store.Event{}, &store.StepEnd{State: store.StepSucceeded, Result: json.RawMessage(`{}`)}); !errors.Is(err, store.ErrStale) {
		t.Fatalf("report from another spoke: %v", err)
	}
	finish := store.Event{Type: "finish-task", Version: "4.0", Payload: json.RawMessage(`{"exit_status":0}`)}
	// The last line comes with the end, in one report, twice: the first
	// stores the end, the repeat does not.
	for i := range 2 {
		end := &store.StepEnd{State: store.StepSucceeded, Result: json.RawMessage(`{"exit_status":0}`), Event: finish}
		ended, err := s.ReportStep(ctx, rep, []store.LogLine{line(5), line(6)}, running, end)
		if err != nil {
			t.Fatal(err)
		}
		if ended != (i == 0) {
			t.Errorf("report %d of the end: ended %v", i+1, ended)
		}
	}
	events, err := s.Events(ctx, b.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		got = append(got, e.Type+" "+string(e.Payload))
	}
	want := []string{
		"initialize-task {}", "start-task {}",
		`log {"payload": "1"}`, `log {"payload": "2"}`, `log {"payload": "3"}`, `log {"payload": "4"}`, `log {"payload": "5"}`,
		`log {"payload": "6"}`, `finish-task {"exit_status": 0}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// Steps created at once on a spoke with room for two (as by hub replicas
// that each placed a step there): exactly two are created, the others fail
// with ErrSpokeFull; a step asking for more memory than is left fails too.
func TestEnsureStepKeepsToTheSpokesRoom(t *testing.T) {
	ctx := t.Context()
	s, b, sp := buildAndSpoke(t)
	room := store.Load{Steps: 2, Memory: 1 << 30}
	errs := make(chan error, 6)
	start := make(chan struct{})
	for i := range 6 {
		go func() {
			<-start
			_, err := s.EnsureStep(ctx, store.StepKey{BuildID: b.ID, PlanID: strconv.Itoa(10 + i), Attempt: 1}, b.Fence,
				store.NewStep{Kind: "task", SpokeID: sp.ID, Request: json.RawMessage(`{}`), Memory: 100 << 20, Room: room})
			errs <- err
		}()
	}
	close(start)
	created, full := 0, 0
	for range 6 {
		switch err := <-errs; {
		case err == nil:
			created++
		case errors.Is(err, store.ErrSpokeFull):
			full++
		default:
			t.Errorf("EnsureStep: %v", err)
		}
	}
	if created != 2 || full != 4 {
		t.Errorf("%d steps created and %d refused, want 2 and 4", created, full)
	}
	room.Steps = 0
	if _, err := s.EnsureStep(ctx, store.StepKey{BuildID: b.ID, PlanID: "20", Attempt: 1}, b.Fence,
		store.NewStep{Kind: "task", SpokeID: sp.ID, Request: json.RawMessage(`{}`), Memory: 900 << 20, Room: room}); !errors.Is(err, store.ErrSpokeFull) {
		t.Errorf("a step asking for more memory than is left: %v", err)
	}
	if _, err := s.EnsureStep(ctx, store.StepKey{BuildID: b.ID, PlanID: "21", Attempt: 1}, b.Fence,
		store.NewStep{Kind: "task", SpokeID: sp.ID, Request: json.RawMessage(`{}`), Memory: 800 << 20, Room: room}); err != nil {
		t.Errorf("a step that fits: %v", err)
	}
}

// TakeBuilds takes many builds in one transaction: the builds whose lease
// another holder keeps are skipped, a finished build is not taken (and its
// lease is not kept), a pending build starts with one started event, and a
// build taken again keeps its events and gets a higher fence.
func TestTakeBuilds(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	team, err := s.SaveTeam(ctx, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for range 4 {
		b, err := s.CreateOneOffBuild(ctx, team.ID, 0, "admin", json.RawMessage(`{"id":"1"}`), "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ID)
	}
	started := store.Event{Type: "status", Version: "1.0", Payload: json.RawMessage(`{"status":"started"}`)}
	if _, ok, err := s.AcquireLease(ctx, "build/"+strconv.FormatInt(ids[0], 10), "other-hub", time.Minute); err != nil || !ok {
		t.Fatalf("lease of another hub: %v %v", ok, err)
	}
	// This hub ran ids[1] to its end and still holds its lease.
	first, err := s.TakeBuilds(ctx, ids[1:2], "this-hub", time.Minute, started)
	if err != nil || len(first) != 1 {
		t.Fatalf("take build %d: %v, %v", ids[1], first, err)
	}
	if err := s.FinishBuild(ctx, ids[1], 0, first[0].Fence, "succeeded", nil, store.Event{}); err != nil {
		t.Fatal(err)
	}
	if err := s.RequestAbort(ctx, ids[3]); err != nil { // asked before it was taken: the take says so
		t.Fatal(err)
	}
	taken, err := s.TakeBuilds(ctx, ids, "this-hub", time.Minute, started)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]store.TakenBuild{}
	for _, tb := range taken {
		got[tb.Build.ID] = tb
	}
	if len(got) != 2 || got[ids[2]].Build.ID == 0 || got[ids[3]].Build.ID == 0 {
		t.Fatalf("took %v, want builds %d and %d only", taken, ids[2], ids[3])
	}
	if got[ids[2]].Aborted || !got[ids[3]].Aborted {
		t.Errorf("taken builds say aborted %v and %v, want false and true", got[ids[2]].Aborted, got[ids[3]].Aborted)
	}
	for _, id := range ids[2:] {
		tb := got[id]
		if !tb.Fresh || tb.Fence != 1 || tb.Build.Status != "started" || tb.Lease.Holder != "this-hub" || tb.Lease.Name != "build/"+strconv.FormatInt(id, 10) {
			t.Errorf("build %d taken as %+v", id, tb)
		}
		evs, err := s.Events(ctx, id, 0, 10)
		if err != nil || len(evs) != 1 || evs[0].Type != "status" {
			t.Errorf("build %d events %v, %v: want one started event", id, evs, err)
		}
	}
	if _, ok, err := s.AcquireLease(ctx, "build/"+strconv.FormatInt(ids[1], 10), "third-hub", time.Minute); err != nil || !ok {
		t.Errorf("the finished build's lease was kept: %v %v", ok, err)
	}
	again, err := s.TakeBuilds(ctx, ids[2:3], "this-hub", time.Minute, started)
	if err != nil || len(again) != 1 || again[0].Fresh || again[0].Fence != 2 {
		t.Fatalf("taken again: %+v, %v; want not fresh, fence 2", again, err)
	}
	if evs, err := s.Events(ctx, ids[2], 0, 10); err != nil || len(evs) != 1 {
		t.Errorf("taken again: events %v, %v; want the one started event", evs, err)
	}
}

// FinishBuild moves a started build once: a stale fence changes nothing, the
// right one ends it with its event and asks for its job to be scheduled, and
// a repeat is a no-op.
func TestFinishBuild(t *testing.T) {
	ctx := t.Context()
	s, b, _ := buildAndSpoke(t)
	requested := func() int {
		t.Helper()
		jobs, err := s.RequestedJobs(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(jobs)
	}
	started := store.Event{Type: "status", Version: "1.0", Payload: json.RawMessage(`{"status":"started"}`)}
	taken, err := s.TakeBuilds(ctx, []int64{b.ID}, "this-hub", time.Minute, started)
	if err != nil || len(taken) != 1 {
		t.Fatalf("take build %d: %v, %v", b.ID, taken, err)
	}
	fence := taken[0].Fence
	// What asked for the job before is handled.
	j, err := s.JobForScheduling(ctx, b.JobID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveResolution(ctx, store.Resolution{JobID: b.JobID, Seq: j.Seq}); err != nil {
		t.Fatal(err)
	}
	if n := requested(); n != 0 {
		t.Fatalf("%d jobs asked to be scheduled before the build ends", n)
	}
	finished := store.Event{Type: "status", Version: "1.0", Payload: json.RawMessage(`{"status":"succeeded"}`)}
	status := func(want api.BuildStatus, events int) {
		t.Helper()
		got, err := s.Build(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := s.Events(ctx, b.ID, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != want || len(evs) != events {
			t.Fatalf("build is %s with %d events, want %s with %d", got.Status, len(evs), want, events)
		}
	}
	if err := s.FinishBuild(ctx, b.ID, b.JobID, fence+1, api.BuildSucceeded, nil, finished); !errors.Is(err, store.ErrStale) {
		t.Fatalf("finish with a stale fence: %v", err)
	}
	status(api.BuildStarted, 1)
	if err := s.FinishBuild(ctx, b.ID, b.JobID, fence, api.BuildSucceeded, nil, finished); err != nil {
		t.Fatal(err)
	}
	status(api.BuildSucceeded, 2)
	if n := requested(); n != 1 {
		t.Errorf("%d jobs asked to be scheduled after the build ended, want its own", n)
	}
	if err := s.FinishBuild(ctx, b.ID, b.JobID, fence, api.BuildSucceeded, nil, finished); err != nil {
		t.Fatalf("a repeated finish: %v", err)
	}
	status(api.BuildSucceeded, 2)
	if err := s.FinishBuild(ctx, b.ID, b.JobID, fence, api.BuildFailed, nil, finished); !errors.Is(err, store.ErrStale) {
		t.Fatalf("finishing an ended build otherwise: %v", err)
	}
}

// Builds of one job that end at once are finished together (batches.go),
// each with its own answer: the stale one and the missing one fail alone.
func TestBuildsFinishedAtOnceKeepTheirOwnAnswers(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	job := newJob(t, s)
	var ids []int64
	for range 40 {
		b, err := s.CreateJobBuild(ctx, job, "test", true, json.RawMessage(`{"id":"1"}`), "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ID)
	}
	started := store.Event{Type: "status", Version: "1.0", Payload: json.RawMessage(`{"status":"started"}`)}
	taken, err := s.TakeBuilds(ctx, ids, "this-hub", time.Minute, started)
	if err != nil || len(taken) != len(ids) {
		t.Fatalf("took %d of %d builds: %v", len(taken), len(ids), err)
	}
	fences := map[int64]int64{}
	for _, tb := range taken {
		fences[tb.Build.ID] = tb.Fence
	}
	stale, missing := ids[7], ids[len(ids)-1]+1000
	errs := make(map[int64]error)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, id := range append(ids, missing) {
		wg.Go(func() {
			fence, status := fences[id], api.BuildSucceeded
			if id == stale {
				fence++
			}
			if id%2 == 0 {
				status = api.BuildFailed
			}
			ev := store.Event{Type: "status", Version: "1.0", Payload: json.RawMessage(`{"status":"` + string(status) + `"}`)}
			err := s.FinishBuild(ctx, id, job, fence, status, nil, ev)
			mu.Lock()
			errs[id] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, id := range append(ids, missing) {
		err := errs[id]
		switch id {
		case stale:
			if !errors.Is(err, store.ErrStale) {
				t.Errorf("build %d with a stale fence: %v", id, err)
			}
			continue
		case missing:
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a build that does not exist: %v", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("build %d: %v", id, err)
			continue
		}
		b, err := s.Build(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := api.BuildSucceeded
		if id%2 == 0 {
			want = api.BuildFailed
		}
		evs, err := s.Events(ctx, id, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if b.Status != want || len(evs) != 2 || !strings.Contains(string(evs[1].Payload), string(want)) {
			t.Errorf("build %d is %s with %d events, want %s with its started and %s events", id, b.Status, len(evs), want, want)
		}
	}
	if b, err := s.Build(ctx, stale); err != nil || b.Status != api.BuildStarted {
		t.Errorf("the build with a stale fence is %s (%v), want started", b.Status, err)
	}
	if jobs, err := s.RequestedJobs(ctx, 10); err != nil || len(jobs) != 1 || jobs[0].ID != job {
		t.Errorf("jobs asked to be scheduled: %v, %v; want the builds' job", jobs, err)
	}
}

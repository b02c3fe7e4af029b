package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
)

func TestMigrateIsIdempotentAndConcurrent(t *testing.T) {
	ctx := t.Context()
	url := storetest.URL(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := store.Open(ctx, url, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			errs[i] = s.Migrate(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("hub %d: migrate: %v", i, err)
		}
	}
	s, err := store.Open(ctx, url, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if _, err := s.SaveTeam(ctx, "main", nil); err != nil {
		t.Fatalf("schema unusable after migrate: %v", err)
	}
}

func TestOpenWithoutURL(t *testing.T) {
	_, err := store.Open(context.Background(), "", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		t.Fatal("Open with an empty URL succeeded")
	}
}

// Under contention every build gets its own number and no increment is lost:
// 8 goroutines x 50 builds make builds 1..400.
func TestCreateJobBuildLosesNoUpdate(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	jobID := newJob(t, s)

	const workers, each = 8, 50
	var mu sync.Mutex
	var names []int
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				b, err := s.CreateJobBuild(ctx, jobID, "test", false, nil, "")
				if err != nil {
					errs <- err
					return
				}
				n, _ := strconv.Atoi(b.Name)
				mu.Lock()
				names = append(names, n)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sort.Ints(names)
	want := make([]int, workers*each)
	for i := range want {
		want[i] = i + 1
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Fatalf("build names (-want +got):\n%s", diff)
	}
	next, err := s.CreateJobBuild(ctx, jobID, "test", false, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if next.Name != "401" {
		t.Fatalf("next build after 400 is %s", next.Name)
	}
}

// Builds asked of a job at once are created together (triggers.go), each
// with its own creator, plan and trace, and a caller that goes away takes
// nobody else's build with it.
func TestBuildsAskedAtOnceKeepTheirOwnValues(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	jobID := newJob(t, s)
	const n = 40
	got := make([]store.Build, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var plan json.RawMessage
			if i%3 == 0 {
				plan = json.RawMessage(fmt.Sprintf(`{"id":"%d"}`, i))
			}
			callCtx := ctx
			if i%10 == 5 {
				var cancel context.CancelFunc
				callCtx, cancel = context.WithCancel(ctx)
				cancel() // gone before its build is made
			}
			got[i], errs[i] = s.CreateJobBuild(callCtx, jobID, fmt.Sprintf("user-%d", i), true, plan,
				fmt.Sprintf("00-%032x-%016x-01", i+1, i+1))
		}()
	}
	wg.Wait()
	names := map[string]bool{}
	for i, b := range got {
		if i%10 == 5 {
			if errs[i] == nil && b.CreatedBy != fmt.Sprintf("user-%d", i) {
				t.Errorf("ask %d (cancelled) got build %+v", i, b)
			}
			continue
		}
		if errs[i] != nil {
			t.Fatalf("ask %d: %v", i, errs[i])
		}
		if b.CreatedBy != fmt.Sprintf("user-%d", i) || names[b.Name] {
			t.Errorf("ask %d: build %s by %q (names so far %v)", i, b.Name, b.CreatedBy, names)
		}
		names[b.Name] = true
		var plan struct{ ID string }
		if b.Plan != nil {
			_ = json.Unmarshal(b.Plan, &plan)
		}
		if want := map[bool]string{true: strconv.Itoa(i)}[i%3 == 0]; plan.ID != want {
			t.Errorf("ask %d: plan %s, want the id %q", i, b.Plan, want)
		}
		if tr := b.Trace(); tr.Parent.String() != fmt.Sprintf("%016x", i+1) {
			t.Errorf("ask %d: the build's span is under %s, want its own caller's", i, tr.Parent)
		}
	}
	all, err := s.CreateJobBuild(ctx, jobID, "last", false, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if all.Name != strconv.Itoa(n+1) {
		t.Errorf("the build after %d asks is %s: a cancelled caller's ask was lost or doubled", n, all.Name)
	}
}

func TestSavePipelineConfigVersion(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	team, err := s.SaveTeam(ctx, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	p := store.SavePipelineParams{TeamID: team.ID, Name: "p", Config: json.RawMessage(`{"jobs":[{"name":"a"}]}`)}
	first, err := s.SavePipeline(ctx, p)
	if err != nil || !first.Created || first.Version == 0 {
		t.Fatalf("create: %+v, %v", first, err)
	}

	p.Config = json.RawMessage(`{"jobs":[{"name":"b"}]}`)
	p.FromVersion = first.Version
	second, err := s.SavePipeline(ctx, p)
	if err != nil || second.Created || second.Version <= first.Version || second.ID != first.ID {
		t.Fatalf("update: %+v, %v", second, err)
	}

	// A save from the stale version must fail and keep the stored config.
	p.Config = json.RawMessage(`{"jobs":[{"name":"stale"}]}`)
	if _, err := s.SavePipeline(ctx, p); !errors.Is(err, store.ErrConfigConflict) {
		t.Fatalf("stale save: got %v, want ErrConfigConflict", err)
	}
	cfg, version, err := s.PipelineConfig(ctx, team.ID, "p", "")
	if err != nil {
		t.Fatal(err)
	}
	if version != second.Version || string(cfg) != `{"jobs": [{"name": "b"}]}` {
		t.Fatalf("after stale save: version %d config %s", version, cfg)
	}

	// Creating with a non-zero version is a conflict too.
	if _, err := s.SavePipeline(ctx, store.SavePipelineParams{TeamID: team.ID, Name: "q", Config: json.RawMessage(`{}`), FromVersion: 7}); !errors.Is(err, store.ErrConfigConflict) {
		t.Fatalf("create with version: got %v", err)
	}
	if _, _, err := s.PipelineConfig(ctx, team.ID, "q", ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("pipeline q: got %v, want ErrNotFound", err)
	}
}

// Two hub replicas racing for one lease: exactly one holds it at a time, and the
// fence grows when it changes hands.
func TestLeases(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)

	var wg sync.WaitGroup
	won := make([]bool, 8)
	for i := range won {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok, err := s.AcquireLease(ctx, "scheduler/job/1", "hub-"+strconv.Itoa(i), time.Minute)
			if err != nil {
				t.Error(err)
			}
			won[i] = ok
		}()
	}
	wg.Wait()
	holders := 0
	holder := ""
	for i, ok := range won {
		if ok {
			holders++
			holder = "hub-" + strconv.Itoa(i)
		}
	}
	if holders != 1 {
		t.Fatalf("%d replicas hold the lease, want 1", holders)
	}
	l, ok, err := s.AcquireLease(ctx, "scheduler/job/1", holder, time.Minute)
	if err != nil || !ok || l.Fence != 1 {
		t.Fatalf("renew by holder: %+v ok=%v err=%v", l, ok, err)
	}

	// An expired lease goes to the next asker with a higher fence.
	if _, _, err := s.AcquireLease(ctx, "short", "a", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	l, ok, err = s.AcquireLease(ctx, "short", "b", time.Minute)
	if err != nil || !ok || l.Fence != 2 {
		t.Fatalf("take-over of expired lease: %+v ok=%v err=%v", l, ok, err)
	}
	if _, ok, _ := s.AcquireLease(ctx, "short", "a", time.Minute); ok {
		t.Fatal("old holder took back an unexpired lease")
	}
	if err := s.ReleaseLease(ctx, l); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.AcquireLease(ctx, "short", "a", time.Minute); !ok {
		t.Fatal("released lease not free")
	}
}

func newJob(t *testing.T, s *store.Store) int64 {
	t.Helper()
	ctx := t.Context()
	team, err := s.SaveTeam(ctx, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.SavePipeline(ctx, store.SavePipelineParams{TeamID: team.ID, Name: "p", Config: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.SaveJob(ctx, p.ID, "j", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// A resource whose source changes starts its version history again; the old
// history stays, and comes back with the old source.
func TestResourceHistoryFollowsItsSource(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	team, err := s.SaveTeam(ctx, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	var version int64
	save := func(source string) store.Resource {
		t.Helper()
		res := store.Part{Name: "r", Type: "git", Config: json.RawMessage(`{"name":"r","type":"git","source":` + source + `}`)}
		saved, err := s.SavePipeline(ctx, store.SavePipelineParams{TeamID: team.ID, Name: "p", Config: json.RawMessage(`{}`),
			FromVersion: version, Resources: []store.Part{res}})
		if err != nil {
			t.Fatal(err)
		}
		version = saved.Version
		r, err := s.ResourceByName(ctx, saved.ID, "r")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	versions := func(r store.Resource) []string {
		t.Helper()
		vs, err := s.Versions(ctx, r.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, v := range vs {
			out = append(out, v.Version["ref"])
		}
		return out
	}
	a := save(`{"uri":"a"}`)
	if err := s.SaveVersions(ctx, a.ID, []map[string]string{{"ref": "a1"}, {"ref": "a2"}}, nil); err != nil {
		t.Fatal(err)
	}
	if again := save(`{"uri": "a"}`); again.ID != a.ID {
		t.Fatalf("the same source made a new resource: %d, was %d", again.ID, a.ID)
	}
	b := save(`{"uri":"b"}`)
	if b.ID == a.ID || len(versions(b)) != 0 {
		t.Fatalf("a new source kept the history: resource %d (was %d), versions %v", b.ID, a.ID, versions(b))
	}
	if got := versions(a); strings.Join(got, " ") != "a2 a1" {
		t.Fatalf("the old history is gone: %v", got)
	}
	if back := save(`{"uri":"a"}`); back.ID != a.ID || strings.Join(versions(back), " ") != "a2 a1" {
		t.Fatalf("the old source did not bring its history back: resource %d (want %d), versions %v", back.ID, a.ID, versions(back))
	}
}

// What a get or put says of a version is kept with it, within a bound: a
// resource that prints megabytes of metadata keeps its version, not them.
func TestVersionMetadata(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	team, err := s.SaveTeam(ctx, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	res := store.Part{Name: "r", Type: "git", Config: json.RawMessage(`{"name":"r","type":"git","source":{}}`)}
	saved, err := s.SavePipeline(ctx, store.SavePipelineParams{TeamID: team.ID, Name: "p", Config: json.RawMessage(`{}`), Resources: []store.Part{res}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.ResourceByName(ctx, saved.ID, "r")
	if err != nil {
		t.Fatal(err)
	}
	huge := json.RawMessage(`[{"name":"x","value":"` + strings.Repeat("a", 70<<10) + `"}]`)
	put := json.RawMessage(`[{"name":"by","value":"put"}]`)
	if err := s.SaveVersions(ctx, r.ID, []map[string]string{{"ref": "a"}, {"ref": "b"}}, []json.RawMessage{put, huge}); err != nil {
		t.Fatal(err)
	}
	metadata := func() map[string]string {
		t.Helper()
		vs, err := s.Versions(ctx, r.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, v := range vs {
			var fields []struct{ Name, Value string }
			_ = json.Unmarshal(v.Metadata, &fields)
			out[v.Version["ref"]] = fmt.Sprint(fields)
		}
		return out
	}
	if md := metadata(); md["a"] != "[{by put}]" || md["b"] != "[]" {
		t.Fatalf("metadata after the put: %.100q", md)
	}
	got := json.RawMessage(`[{"name":"by","value":"get"}]`)
	if err := s.SaveVersionMetadata(ctx, saved.ID, "r", map[string]string{"ref": "b"}, got); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveVersionMetadata(ctx, saved.ID, "r", map[string]string{"ref": "a"}, huge); err == nil || !strings.Contains(err.Error(), "at most 65536 are kept") {
		t.Errorf("huge metadata from a get: %v", err)
	}
	if err := s.SaveVersionMetadata(ctx, saved.ID, "nope", map[string]string{"ref": "a"}, got); err != nil {
		t.Errorf("a resource the pipeline lacks: %v", err)
	}
	// A check that sees the version again keeps what it had.
	if err := s.SaveVersions(ctx, r.ID, []map[string]string{{"ref": "b"}}, nil); err != nil {
		t.Fatal(err)
	}
	if md := metadata(); md["a"] != "[{by put}]" || md["b"] != "[{by get}]" {
		t.Errorf("metadata at the end: %.100q", md)
	}
}

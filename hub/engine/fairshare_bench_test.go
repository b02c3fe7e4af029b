package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/switchyard-ci/switchyard/hub/engine"
	"github.com/switchyard-ci/switchyard/hub/notify"
	"github.com/switchyard-ci/switchyard/hub/placer"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
	"github.com/switchyard-ci/switchyard/metrics"
	"github.com/switchyard-ci/switchyard/policy"
	"github.com/switchyard-ci/switchyard/wire"
)

// The fleet of the fair-share benchmark: 100 spokes that run 2 steps each,
// 20 teams of weights 1 to 4, each triggering 50 one-step builds at once
// onto it (1,000 steps for 200 places); a step runs for a second.
const (
	benchSpokes      = 100
	benchSpokeSteps  = 2
	benchTeams       = 20
	benchBuildsEach  = 50
	benchStepRunTime = time.Second
)

// BenchmarkFairShare100Spokes20Teams runs the engine (real PostgreSQL, the
// real placer and store) on that fleet, under first come, first served and
// under dominant resource fairness, in the same run. The spokes are
// simulated at the gateway's seam: each lists its open steps as the
// engine notifies it and reports each done after benchStepRunTime. It
// reports steps/s (all builds' steps, from the triggers to the last one's
// end), the wait from trigger to placement (p50, p99), and Jain's fairness
// index of the teams' starts over their weights while every team still
// had steps waiting (1: each team got its weighted share), and the
// placement decisions made per step placed.
func BenchmarkFairShare100Spokes20Teams(b *testing.B) {
	for _, mode := range []engine.FairShare{engine.FairFIFO, engine.FairDRF} {
		b.Run(string(mode), func(b *testing.B) {
			for range b.N {
				r := runBenchFleet(b, mode)
				b.ReportMetric(r.stepsPerSecond, "steps/s")
				b.ReportMetric(r.waitP50.Seconds()*1000, "wait-p50-ms")
				b.ReportMetric(r.waitP99.Seconds()*1000, "wait-p99-ms")
				b.ReportMetric(r.fairness, "jain-index")
				b.ReportMetric(r.triesPerStep, "placements/step")
			}
		})
	}
}

type benchFleetResult struct {
	stepsPerSecond   float64
	waitP50, waitP99 time.Duration
	fairness         float64
	triesPerStep     float64 // placement decisions made per step placed
}

// benchSpoke completes the steps the engine places on one simulated spoke.
type benchSpoke struct {
	st      *store.Store
	e       *engine.Engine
	n       *notify.Notifier
	id      int64
	placed  func(buildID int64)
	mu      sync.Mutex
	seen    map[int64]bool
	pending sync.WaitGroup
}

func (s *benchSpoke) run(ctx context.Context) {
	for ctx.Err() == nil {
		changed := s.n.Watch(notify.SpokeKey(s.id))
		ids, err := s.st.OpenStepIDs(ctx, s.id)
		if err != nil {
			return
		}
		var fresh []int64
		s.mu.Lock()
		for _, id := range ids {
			if !s.seen[id] {
				s.seen[id] = true
				fresh = append(fresh, id)
			}
		}
		s.mu.Unlock()
		if len(fresh) > 0 {
			steps, err := s.st.StepsByID(ctx, fresh)
			if err != nil {
				return
			}
			for _, st := range steps {
				s.placed(st.BuildID)
				s.pending.Add(1)
				time.AfterFunc(benchStepRunTime, func() { defer s.pending.Done(); s.finish(ctx, st) })
			}
		}
		notify.Await(ctx, changed, time.Second)
	}
}

func (s *benchSpoke) finish(ctx context.Context, st store.Step) {
	result, _ := json.Marshal(wire.Result{ExitStatus: 0})
	payload, _ := json.Marshal(map[string]any{"origin": map[string]string{"id": st.PlanID}, "time": time.Now().Unix(), "exit_status": 0})
	end := &store.StepEnd{State: store.StepSucceeded, Result: result, Event: store.Event{Type: "finish-task", Version: "4.0", Payload: payload}}
	if _, err := s.st.ReportStep(ctx, store.StepReport{StepID: st.ID, SpokeID: s.id, Fence: st.Fence}, nil, store.Event{}, end); err != nil && ctx.Err() == nil {
		panic(fmt.Sprintf("report step %d: %v", st.ID, err))
	}
	s.e.Wake(st.BuildID)
}

func runBenchFleet(b *testing.B, mode engine.FairShare) benchFleetResult {
	b.Helper()
	b.StopTimer()
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st := storetest.New(b)
	weights := map[int64]float64{}
	var teams []int64
	for i := range benchTeams {
		t, err := st.SaveTeam(ctx, fmt.Sprintf("team-%02d", i), nil)
		if err != nil {
			b.Fatal(err)
		}
		w := float64(1 + i%4)
		if err := st.SetTeamQuota(ctx, t.ID, store.TeamQuota{Weight: w}); err != nil {
			b.Fatal(err)
		}
		weights[t.ID] = w
		teams = append(teams, t.ID)
	}
	n := notify.New()
	e := engine.New(st, n, engine.Options{Holder: "bench", Placer: placer.New(st, policy.Limits{}, log), FairShare: mode}, log)

	var mu sync.Mutex
	triggered := map[int64]time.Time{} // by build
	teamOf := map[int64]int64{}
	var waits []time.Duration
	var starts []int64 // the teams of the steps placed, in order
	allPlaced := make(chan struct{})
	placed := func(buildID int64) {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, time.Since(triggered[buildID]))
		starts = append(starts, teamOf[buildID])
		if len(starts) == benchTeams*benchBuildsEach {
			close(allPlaced)
		}
	}
	var spokes []*benchSpoke
	capacity, _ := json.Marshal(map[string]int{"steps": benchSpokeSteps})
	for i := range benchSpokes {
		join, err := st.RegisterSpoke(ctx, store.SpokeRegistration{Name: fmt.Sprintf("spoke-%03d", i), Runtime: "local", Capacity: capacity,
			CredentialHash: fmt.Sprintf("bench-%d", i)}, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		s := &benchSpoke{st: st, e: e, n: n, id: join.Spoke.ID, placed: placed, seen: map[int64]bool{}}
		spokes = append(spokes, s)
	}
	var wg sync.WaitGroup
	for _, s := range spokes {
		wg.Add(1)
		go func() { defer wg.Done(); s.run(ctx) }()
	}
	engineDone := make(chan struct{})
	go func() { defer close(engineDone); _ = e.Run(ctx) }()

	plan := json.RawMessage(`{"id":"t","task":{"name":"work","config":{"platform":"linux","run":{"path":"true"}}}}`)
	decisions := func() float64 {
		var sum float64
		for _, outcome := range []string{"placed", "waiting"} {
			var m dto.Metric
			if err := metrics.Placements.WithLabelValues(outcome).Write(&m); err != nil {
				b.Fatal(err)
			}
			sum += m.GetCounter().GetValue()
		}
		return sum
	}
	decided := decisions()
	b.StartTimer()
	began := time.Now()
	for k := range benchBuildsEach {
		for _, team := range teams {
			bd, err := st.CreateOneOffBuild(ctx, team, 0, fmt.Sprintf("bench-%d", k), plan, "")
			if err != nil {
				b.Fatal(err)
			}
			mu.Lock()
			triggered[bd.ID], teamOf[bd.ID] = time.Now(), team
			mu.Unlock()
			e.Wake(bd.ID)
		}
	}
	select {
	case <-allPlaced:
	case <-time.After(10 * time.Minute):
		b.Fatal("the steps were not all placed within 10 minutes")
	}
	for _, s := range spokes {
		s.pending.Wait()
	}
	elapsed := time.Since(began)
	b.StopTimer()
	cancel()
	wg.Wait()
	<-engineDone

	mu.Lock()
	defer mu.Unlock()
	slices.Sort(waits)
	return benchFleetResult{
		stepsPerSecond: float64(len(waits)) / elapsed.Seconds(),
		waitP50:        waits[len(waits)/2],
		waitP99:        waits[len(waits)*99/100],
		fairness:       jainIndex(starts, weights),
		triesPerStep:   (decisions() - decided) / float64(len(waits)),
	}
}

// jainIndex is Jain's fairness index of the teams' starts over their
// weights, counted after the first fill of the fleet until the first team
// has no more steps waiting: (Σx)² / (n·Σx²) for x = starts/weight, 1 when
// every team got its weighted share, 1/n when one team got everything.
func jainIndex(starts []int64, weights map[int64]float64) float64 {
	count := map[int64]int{}
	window := map[int64]float64{}
	for i, team := range starts {
		if count[team]++; count[team] == benchBuildsEach {
			break
		}
		if i >= benchSpokes*benchSpokeSteps {
			window[team]++
		}
	}
	var sum, squares float64
	for team, w := range weights {
		x := window[team] / w
		sum += x
		squares += x * x
	}
	if squares == 0 {
		return math.NaN()
	}
	return sum * sum / (float64(len(weights)) * squares)
}

package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/placement"
)

// fakeFleet is room for steps: a waiter's turn places it while the room
// lasts.
type fakeFleet struct {
	mu     sync.Mutex
	room   placement.Resources // what is left
	shares fleetShares         // what the teams held before the round
	placed map[int64][]placement.Resources
	turns  map[int64]int
	refuse map[int64]bool // teams whose steps never fit
}

func (f *fakeFleet) take(team int64, asks placement.Resources) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.turns[team]++
	if f.refuse[team] || f.room.Steps < 1 || f.room.CPU < asks.CPU {
		return false
	}
	f.room.Steps--
	f.room.CPU -= asks.CPU
	f.placed[team] = append(f.placed[team], asks)
	return true
}

// read is what the teams hold now: what they held with what they placed.
func (f *fakeFleet) read(context.Context) (fleetShares, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.shares
	s.held = map[int64]placement.Resources{}
	for team, h := range f.shares.held {
		s.held[team] = h
	}
	for team, asks := range f.placed {
		h := s.held[team]
		for _, a := range asks {
			h.Steps++
			h.CPU += a.CPU
			h.Memory += a.Memory
		}
		s.held[team] = h
	}
	// One spoke of the pool, as full as the teams' steps make it.
	sp := placement.Spoke{Health: "healthy", Capacity: s.fleet}
	for _, h := range s.held {
		sp.Load.Steps += h.Steps
		sp.Load.CPU += h.CPU
		sp.Load.Memory += h.Memory
	}
	s.spokes = []placement.Spoke{sp}
	return s, nil
}

// queueSteps puts n steps of each team asking for asks in q, team by team,
// each with a goroutine that takes its turns as pickSpoke does.
func queueSteps(ctx context.Context, t *testing.T, q *fairQueue, f *fakeFleet, teams []int64, n int, asks map[int64]placement.Resources) *sync.WaitGroup {
	t.Helper()
	var wg sync.WaitGroup
	for _, team := range teams {
		for range n {
			w := q.join(team, "", asks[team])
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer q.leave(w)
				for q.await(ctx, w, time.Time{}) == nil {
					ok := f.take(team, asks[team])
					q.answer(w, ok, time.Time{})
					if ok {
						return
					}
				}
			}()
		}
	}
	return &wg
}

func TestFairRoundsShareByWeight(t *testing.T) {
	const a, b = 1, 2
	cases := []struct {
		name     string
		mode     FairShare
		fleet    placement.Resources
		weights  map[int64]float64
		asks     map[int64]placement.Resources
		refuse   map[int64]bool
		want     map[int64]int // steps placed by team
		maxTurns map[int64]int // the most turns a team's steps get
	}{
		{name: "weights 1 and 3 share 8 steps 2 to 6", mode: FairSteps, fleet: placement.Resources{Steps: 8, CPU: 100},
			weights: map[int64]float64{a: 1, b: 3}, want: map[int64]int{a: 2, b: 6}},
		{name: "equal weights share equally", mode: FairDRF, fleet: placement.Resources{Steps: 8, CPU: 100},
			weights: map[int64]float64{a: 1, b: 1}, want: map[int64]int{a: 4, b: 4}},
		{name: "DRF: a team asking 4 CPUs a step gets as many CPUs, not as many steps", mode: FairDRF, fleet: placement.Resources{Steps: 100, CPU: 16},
			weights: map[int64]float64{a: 1, b: 1}, asks: map[int64]placement.Resources{a: {CPU: 4}, b: {CPU: 1}}, want: map[int64]int{a: 2, b: 8}},
		{name: "by steps alone the CPU-hungry team gets as many steps", mode: FairSteps, fleet: placement.Resources{Steps: 100, CPU: 16},
			weights: map[int64]float64{a: 1, b: 1}, asks: map[int64]placement.Resources{a: {CPU: 4}, b: {CPU: 1}}, want: map[int64]int{a: 3, b: 4}},
		{name: "a team whose steps do not fit sits out, the other fills the fleet", mode: FairDRF, fleet: placement.Resources{Steps: 8, CPU: 100},
			weights: map[int64]float64{a: 1, b: 1}, refuse: map[int64]bool{a: true}, want: map[int64]int{a: 0, b: 8},
			maxTurns: map[int64]int{a: fairTriesPerTeam}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			q := newFairQueue()
			f := &fakeFleet{room: c.fleet, placed: map[int64][]placement.Resources{}, turns: map[int64]int{}, refuse: c.refuse,
				shares: fleetShares{mode: c.mode, fleet: c.fleet, weight: func(team int64) float64 { return c.weights[team] }}}
			asks := c.asks
			if asks == nil {
				asks = map[int64]placement.Resources{}
			}
			wg := queueSteps(ctx, t, q, f, []int64{a, b}, 20, asks)
			placed, err := q.round(ctx, f.read, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if n := q.waiting(); n != 40-placed {
				t.Errorf("%d steps still wait, want %d", n, 40-placed)
			}
			cancel()
			wg.Wait()
			for team, want := range c.want {
				if got := len(f.placed[team]); got != want {
					t.Errorf("team %d placed %d steps, want %d (placed %v, turns %v)", team, got, want, f.placed, f.turns)
				}
			}
			if total := len(f.placed[a]) + len(f.placed[b]); placed != total {
				t.Errorf("the round says it placed %d, the fleet took %d", placed, total)
			}
			for team, most := range c.maxTurns {
				if f.turns[team] > most {
					t.Errorf("team %d had %d turns in one round, want at most %d", team, f.turns[team], most)
				}
			}
		})
	}
}

// What a team holds already counts: a team holding 6 of 8 steps waits
// while one holding none catches up.
func TestFairRoundsCountWhatTeamsHold(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	q := newFairQueue()
	f := &fakeFleet{room: placement.Resources{Steps: 4, CPU: 100}, placed: map[int64][]placement.Resources{}, turns: map[int64]int{},
		shares: fleetShares{mode: FairDRF, fleet: placement.Resources{Steps: 10}, held: map[int64]placement.Resources{1: {Steps: 6}},
			weight: func(int64) float64 { return 1 }}}
	wg := queueSteps(ctx, t, q, f, []int64{1, 2}, 10, map[int64]placement.Resources{})
	if _, err := q.round(ctx, f.read, time.Now()); err != nil {
		t.Fatal(err)
	}
	cancel()
	wg.Wait()
	if len(f.placed[1]) != 0 || len(f.placed[2]) != 4 {
		t.Errorf("placed %v, want team 2's steps only", f.placed)
	}
}

// A step whose placement erred is not tried before its retry time, and a
// step that left is never given a turn.
func TestFairRoundsSkipStepsNotDue(t *testing.T) {
	q := newFairQueue()
	late := q.join(1, "a", placement.Resources{})
	gone := q.join(1, "a", placement.Resources{})
	due := q.join(1, "a", placement.Resources{})
	now := time.Now()
	q.answer(late, false, now.Add(time.Minute))
	q.leave(gone)
	s := fleetShares{mode: FairDRF, held: map[int64]placement.Resources{}, weight: func(int64) float64 { return 1 },
		spokes: []placement.Spoke{{Team: "a", Health: "healthy"}}}
	if w := q.next(s, map[int64]int{}, map[*waiter]bool{}, now); w != due {
		t.Fatalf("the turn went to %+v, want the step that is due", w)
	}
	q.leave(due) // answers its turn as not placed
	if placed := <-due.done; placed {
		t.Error("a step that left answered its turn as placed")
	}
	if w := q.next(s, map[int64]int{}, map[*waiter]bool{}, now.Add(2*time.Minute)); w != late {
		t.Fatalf("after its retry time the turn went to %+v, want the step that erred", w)
	}
}

func TestParseFairShare(t *testing.T) {
	for _, s := range []string{"drf", "steps", "fifo"} {
		if f, err := ParseFairShare(s); err != nil || string(f) != s {
			t.Errorf("%q: %q, %v", s, f, err)
		}
	}
	for _, s := range []string{"", "DRF", "fair", "drf "} {
		if _, err := ParseFairShare(s); err == nil {
			t.Errorf("%q was taken", s)
		}
	}
}

// A step is given a turn only when a spoke it may use has room: a full
// fleet gives no turns (none that could take room freed as it tries), and
// a team's own spoke with room serves that team though another team's
// share is smaller.
func TestFairRoundsGiveTurnsOnlyWithRoom(t *testing.T) {
	q := newFairQueue()
	q.join(2, "b", placement.Resources{})
	a := q.join(1, "a", placement.Resources{})
	full := placement.Spoke{Health: "healthy", Capacity: placement.Resources{Steps: 2}, Load: placement.Resources{Steps: 2}}
	s := fleetShares{mode: FairDRF, fleet: placement.Resources{Steps: 4}, held: map[int64]placement.Resources{1: {Steps: 2}},
		weight: func(int64) float64 { return 1 }, spokes: []placement.Spoke{full}}
	if w := q.next(s, map[int64]int{}, map[*waiter]bool{}, time.Now()); w != nil {
		t.Fatalf("a full fleet gave team %d a turn", w.team)
	}
	own := placement.Spoke{Team: "a", Health: "healthy", Capacity: placement.Resources{Steps: 2}}
	s.spokes = append(s.spokes, own)
	if w := q.next(s, map[int64]int{}, map[*waiter]bool{}, time.Now()); w != a {
		t.Fatalf("the turn went to %+v, want team a's step (its own spoke has room)", w)
	}
}

// A step asking more than any spoke has free does not hold its team's
// smaller steps behind it; one that no spoke could hold even empty gets its
// turn, for placement to say why it does not fit.
func TestFairRoundsPassABigStep(t *testing.T) {
	q := newFairQueue()
	q.join(1, "a", placement.Resources{CPU: 3})
	small := q.join(1, "a", placement.Resources{CPU: 1})
	s := fleetShares{mode: FairDRF, held: map[int64]placement.Resources{}, weight: func(int64) float64 { return 1 },
		spokes: []placement.Spoke{{Health: "healthy", Capacity: placement.Resources{CPU: 4}, Load: placement.Resources{CPU: 2}}}}
	if w := q.next(s, map[int64]int{}, map[*waiter]bool{}, time.Now()); w != small {
		t.Fatalf("the turn went to %+v, want the step that fits", w)
	}
	huge := q.join(2, "b", placement.Resources{CPU: 64})
	tried := map[*waiter]bool{small: true}
	if w := q.next(s, map[int64]int{}, tried, time.Now()); w != huge {
		t.Fatalf("the turn went to %+v, want the step no spoke could ever hold", w)
	}
}

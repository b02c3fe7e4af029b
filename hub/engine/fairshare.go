package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/switchyard-ci/switchyard/placement"
)

// Fair share across teams. While no step waits, a step is placed at once.
// Once steps wait for room, every step of this hub that needs a spoke waits
// in a queue, and rounds (each second, and when a step of this hub ends)
// give them their turns: the team whose weighted share of the fleet is the
// smallest goes next, its steps in the order they came, and the team's
// share grows with each step placed (progressive filling, as Dominant
// Resource Fairness does). A team whose steps do not fit this round (full
// spokes, its quota, its policies) sits the rest of the round out after
// fairTriesPerTeam tries, so that one waiting on a tag no spoke has free
// does not hold the others.

// FairShare is how the engine orders the steps that wait for room.
type FairShare string

const (
	// FairDRF compares teams by their dominant share: the largest of their
	// open steps, CPUs and memory, each over what the fleet's spokes offer,
	// divided by the team's weight.
	FairDRF FairShare = "drf"
	// FairSteps compares teams by open steps over the fleet's, divided by
	// the team's weight.
	FairSteps FairShare = "steps"
	// FairFIFO places each waiting step on its own, every second, as it
	// finds room: first come, first served, roughly.
	FairFIFO FairShare = "fifo"
)

// ParseFairShare reads a --fair-share value.
func ParseFairShare(s string) (FairShare, error) {
	switch f := FairShare(s); f {
	case FairDRF, FairSteps, FairFIFO:
		return f, nil
	}
	return "", fmt.Errorf("%q: write drf (dominant resource fairness), steps (open steps) or fifo (first come, first served)", s)
}

// fairTriesPerTeam is how many of a team's steps a round tries before the
// team sits the round out.
const fairTriesPerTeam = 4

// fairQueue holds the steps that wait for a turn.
type fairQueue struct {
	mu    sync.Mutex
	seq   uint64
	teams map[int64][]*waiter // by team, in the order they came
	kick  chan struct{}
}

// waiter is a step waiting for its turn.
type waiter struct {
	team      int64
	teamName  string
	asks      placement.Resources
	seq       uint64
	notBefore time.Time     // a step whose placement errs is tried again later
	turn      chan struct{} // its turn came (buffered)
	done      chan bool     // the turn's outcome: placed (buffered)
	granted   bool          // a turn is out, not yet answered
	gone      bool
}

func newFairQueue() *fairQueue {
	return &fairQueue{teams: map[int64][]*waiter{}, kick: make(chan struct{}, 1)}
}

// waiting is how many steps wait.
func (q *fairQueue) waiting() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, ws := range q.teams {
		n += len(ws)
	}
	return n
}

// join puts a step of team asking for asks in the queue, and starts a round.
func (q *fairQueue) join(team int64, teamName string, asks placement.Resources) *waiter {
	q.mu.Lock()
	q.seq++
	w := &waiter{team: team, teamName: teamName, asks: asks, seq: q.seq, turn: make(chan struct{}, 1), done: make(chan bool, 1)}
	q.teams[team] = append(q.teams[team], w)
	q.mu.Unlock()
	q.wake()
	return w
}

// wake starts a round soon (room may have freed).
func (q *fairQueue) wake() {
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// errWaitedTooLong is await's when the step's wait reached its bound.
var errWaitedTooLong = errors.New("waited too long")

// await blocks until w's turn, ctx's end (errAborted) or deadline (zero:
// none; errWaitedTooLong).
func (q *fairQueue) await(ctx context.Context, w *waiter, deadline time.Time) error {
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-w.turn:
		return nil
	case <-ctx.Done():
		return errAborted
	case <-timeout:
		return errWaitedTooLong
	}
}

// answer tells the round what w's turn did; a step that was not placed
// and whose placement erred is not tried again before retry.
func (q *fairQueue) answer(w *waiter, placed bool, retry time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	w.notBefore = retry
	if w.granted {
		w.granted = false
		w.done <- placed
	}
}

// leave takes w out of the queue; a turn it has not answered is answered
// as not placed.
func (q *fairQueue) leave(w *waiter) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if w.gone {
		return
	}
	w.gone = true
	if w.granted {
		w.granted = false
		w.done <- false
	}
	ws := q.teams[w.team]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(q.teams, w.team)
	} else {
		q.teams[w.team] = ws
	}
}

// fleetShares is what a round knows of the fleet and the waiting teams.
type fleetShares struct {
	mode   FairShare
	fleet  placement.Resources           // what the fleet's spokes offer (zero: no bound)
	held   map[int64]placement.Resources // what each team's open steps hold
	weight func(team int64) float64      // each team's weight (positive)
	// spokes are the healthy spokes with their loads: a step is given its
	// turn only when one of the spokes it may use has room for it.
	spokes []placement.Spoke
}

// room tells whether a spoke of the shared pool or of the team has room
// for a step asking for asks. A turn given to a step that has none would
// only let it take room that frees as it tries, before a team with a
// smaller share. A step that no such spoke could hold even empty has
// "room": its turn lets placement say why it does not fit.
func (s fleetShares) room(teamName string, asks placement.Resources) bool {
	ever := false
	for i := range s.spokes {
		sp := s.spokes[i]
		if sp.Team != "" && sp.Team != teamName {
			continue
		}
		if placement.HasRoom(&sp, asks) {
			return true
		}
		sp.Load = placement.Resources{}
		ever = ever || placement.HasRoom(&sp, asks)
	}
	return !ever
}

// share is a team's weighted share of the fleet once it holds asks more:
// turns go by the share a team would have with the step placed, so that a
// heavier team, or a step asking more, waits its due.
func (s fleetShares) share(team int64, asks placement.Resources) float64 {
	h := s.held[team]
	h.Steps++
	h.CPU += asks.CPU
	h.Memory += asks.Memory
	var dominant float64
	switch {
	case s.fleet.Steps > 0:
		dominant = float64(h.Steps) / float64(s.fleet.Steps)
	default:
		dominant = float64(h.Steps) // no bound on steps: compare counts
	}
	if s.mode == FairDRF {
		if s.fleet.CPU > 0 {
			dominant = max(dominant, h.CPU/s.fleet.CPU)
		}
		if s.fleet.Memory > 0 {
			dominant = max(dominant, float64(h.Memory)/float64(s.fleet.Memory))
		}
	}
	return dominant / s.weight(team)
}

// round gives the waiting steps their turns, the team with the smallest
// share first, until every team has placed what fits or sat out; it
// returns how many steps it placed. The shares are read at its start and
// again after each step it places: steps of other teams end meanwhile.
func (q *fairQueue) round(ctx context.Context, read func(context.Context) (fleetShares, error), now time.Time) (int, error) {
	s, err := read(ctx)
	if err != nil {
		return 0, err
	}
	tries := map[int64]int{}
	tried := map[*waiter]bool{}
	placed := 0
	for ctx.Err() == nil {
		w := q.next(s, tries, tried, now)
		if w == nil {
			break
		}
		tried[w] = true
		select {
		case ok := <-w.done:
			if ok {
				placed++
				q.leave(w)
				if s, err = read(ctx); err != nil {
					return placed, err
				}
				continue
			}
		case <-ctx.Done():
			return placed, nil
		}
		if tries[w.team]++; tries[w.team] >= fairTriesPerTeam {
			tries[w.team] = -1 // sits the round out
		}
	}
	return placed, nil
}

// next grants a turn to the next step with room of the team with the
// smallest share (ties: the team whose step came first) that has one left
// this round, or returns nil.
func (q *fairQueue) next(s fleetShares, tries map[int64]int, tried map[*waiter]bool, now time.Time) *waiter {
	q.mu.Lock()
	defer q.mu.Unlock()
	var best *waiter
	bestShare := 0.0
	for team, ws := range q.teams {
		if tries[team] < 0 {
			continue
		}
		// The team's first step that is due and has room somewhere: one
		// asking more than any spoke has free does not hold the smaller
		// ones behind it.
		var head *waiter
		for _, w := range ws {
			if !tried[w] && !w.gone && !w.notBefore.After(now) && s.room(w.teamName, w.asks) {
				head = w
				break
			}
		}
		if head == nil {
			continue
		}
		sh := s.share(team, head.asks)
		if best == nil || sh < bestShare || sh == bestShare && head.seq < best.seq {
			best, bestShare = head, sh
		}
	}
	if best != nil {
		best.granted = true
		best.turn <- struct{}{}
	}
	return best
}

// fairRounds runs the rounds until ctx ends: each second, and when a step
// joins or one of this hub's steps ends.
func (e *Engine) fairRounds(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-e.fair.kick:
		}
		if e.fair.waiting() == 0 {
			continue
		}
		if _, err := e.fair.round(ctx, e.fleetShares, time.Now()); err != nil && ctx.Err() == nil {
			e.log.Error("read the fleet's shares", slog.String("error", err.Error()))
		}
	}
}

// fleetShares reads what the fleet's spokes offer and what the waiting
// teams' open steps hold, with the steps this hub decided and has not
// stored yet.
func (e *Engine) fleetShares(ctx context.Context) (fleetShares, error) {
	s := fleetShares{mode: e.fairShare, held: map[int64]placement.Resources{}, weight: func(team int64) float64 {
		if w := e.placer.TeamQuota(team).Weight; w > 0 {
			return w
		}
		return 1
	}}
	spokes, _, err := e.placer.Snapshot(ctx)
	if err != nil {
		return s, err
	}
	e.inflight.count(spokes)
	for _, sp := range spokes {
		if sp.Health == "healthy" {
			s.fleet.Steps += sp.Capacity.Steps
			s.fleet.CPU += sp.Capacity.CPU
			s.fleet.Memory += sp.Capacity.Memory
			s.spokes = append(s.spokes, sp)
		}
	}
	e.fair.mu.Lock()
	teams := make([]int64, 0, len(e.fair.teams))
	for team := range e.fair.teams {
		teams = append(teams, team)
	}
	e.fair.mu.Unlock()
	loads, err := e.store.TeamOpenLoads(ctx, teams)
	if err != nil {
		return s, err
	}
	e.inflight.mu.Lock()
	defer e.inflight.mu.Unlock()
	for _, team := range teams {
		l, pending := loads[team], e.inflight.load[teamKey(team)]
		s.held[team] = placement.Resources{Steps: l.Steps + pending.Steps, CPU: l.CPU + pending.CPU, Memory: l.Memory + pending.Memory}
	}
	return s, nil
}

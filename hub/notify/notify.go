// Package notify wakes waiters inside one hub process when a build's events or
// a spoke's steps change. It only shortens waits: every waiter also polls the
// store, so other replicas see changes without it.
package notify

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// EventsKey is the key for a build's events (watched by event streams and by
// the engine's step waits).
func EventsKey(buildID int64) string { return "build/" + strconv.FormatInt(buildID, 10) }

// SpokeKey is the key for a spoke's assignments (watched by its long poll).
func SpokeKey(spokeID int64) string { return "spoke/" + strconv.FormatInt(spokeID, 10) }

// Notifier wakes waiters in this process when something they wait on changes
// (a build's events, a spoke's steps). It only shortens waits: every waiter also
// polls the store, so replicas that get no wake-up still see changes.
type Notifier struct {
	mu    sync.Mutex
	chans map[string]chan struct{}
}

func New() *Notifier { return &Notifier{chans: map[string]chan struct{}{}} }

// Watch returns a channel that is closed at the next Notify of key. Take it
// before reading what key guards, then Await it: a Notify that comes
// between the read and the wait is not lost (it was, when waiters
// registered only as they began to wait, and a step that ended within
// milliseconds left its build waiting for the next poll).
func (n *Notifier) Watch(key string) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	ch, ok := n.chans[key]
	if !ok {
		ch = make(chan struct{})
		n.chans[key] = ch
	}
	return ch
}

// Await returns when ch is closed, after poll, or when ctx ends.
func Await(ctx context.Context, ch <-chan struct{}, poll time.Duration) {
	t := time.NewTimer(poll)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
	}
}

// Notify wakes every waiter on key.
func (n *Notifier) Notify(key string) {
	n.mu.Lock()
	if ch, ok := n.chans[key]; ok {
		close(ch)
		delete(n.chans, key)
	}
	n.mu.Unlock()
}

// Signal is a wake-up that one part of the hub gives another in the same
// process without either holding the other (the engine wakes the scheduler
// through one that main makes and gives both). Raises while nobody listens
// are kept as one.
type Signal struct{ c chan struct{} }

func NewSignal() *Signal { return &Signal{c: make(chan struct{}, 1)} }

// Raise wakes the listener, now or when it next listens.
func (s *Signal) Raise() {
	select {
	case s.c <- struct{}{}:
	default:
	}
}

// C is where the listener waits.
func (s *Signal) C() <-chan struct{} { return s.c }

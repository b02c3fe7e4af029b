package server

import (
	"context"
	"sync"
	"time"
)

// Notifier wakes waiters in this process when something they wait on changes
// (a build's events, a spoke's steps). It only shortens waits: every waiter also
// polls the store, so replicas that get no wake-up still see changes.
type Notifier struct {
	mu    sync.Mutex
	chans map[string]chan struct{}
}

func NewNotifier() *Notifier { return &Notifier{chans: map[string]chan struct{}{}} }

// Wait returns when key is notified, after poll, or when ctx ends.
func (n *Notifier) Wait(ctx context.Context, key string, poll time.Duration) {
	n.mu.Lock()
	ch, ok := n.chans[key]
	if !ok {
		ch = make(chan struct{})
		n.chans[key] = ch
	}
	n.mu.Unlock()
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

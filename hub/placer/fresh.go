package placer

import (
	"context"
	"sync"
	"time"
)

// fresh shares one read among the callers that ask for it at once, without
// giving anyone an answer older than its call: a caller joins the read that
// starts next (at once when none runs, else when the running one ends),
// never one that started before it asked. A burst of step placements then
// reads the spokes' loads and the policies' generation a few times, not
// once each.
type fresh[T any] struct {
	read func(context.Context) (T, error)

	mu      sync.Mutex
	running bool
	next    *flight[T] // the read callers wait for that has not started
}

type flight[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// readTimeout bounds a shared read, which no one caller's context ends.
const readTimeout = 30 * time.Second

func (f *fresh[T]) get(ctx context.Context) (T, error) {
	f.mu.Lock()
	fl := f.next
	if fl == nil {
		fl = &flight[T]{done: make(chan struct{})}
		f.next = fl
		if !f.running {
			f.start()
		}
	}
	f.mu.Unlock()
	select {
	case <-fl.done:
		return fl.val, fl.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// start runs the waiting read; f.mu is held.
func (f *fresh[T]) start() {
	fl := f.next
	f.next, f.running = nil, true
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
		fl.val, fl.err = f.read(ctx)
		cancel()
		close(fl.done)
		f.mu.Lock()
		f.running = false
		if f.next != nil {
			f.start()
		}
		f.mu.Unlock()
	}()
}

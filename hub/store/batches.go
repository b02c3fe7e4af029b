package store

import (
	"context"
	"sync"
)

// batches gathers what callers ask of one job while an earlier transaction
// on the job's row runs (lockJob): the next transaction does all of it at
// once (one write of the job's row, statements sent together) instead of a
// transaction each, queued behind the other. Triggers and finished builds
// are gathered so: a burst of either comes to one job at once.
type batches[A any] struct {
	mu   sync.Mutex
	open map[int64]*batch[A] // by job: the batch that still takes asks
}

type batch[A any] struct {
	asks []A
	done chan struct{} // closed when err is set
	err  error
}

// maxBatch bounds what one transaction does: a flood makes several
// batches, each led by its first caller.
const maxBatch = 500

// do adds a to the job's open batch, or opens one (when there is none, or
// it is full), and returns once the batch is done. The caller that opened
// it takes the job's lock, closes the batch to new asks and runs fn over
// them, to its end even if that caller goes away: the asks of the callers
// that joined are theirs. An ask carries its own answer; err is fn's.
func (t *batches[A]) do(ctx context.Context, s *Store, jobID int64, a A, fn func(ctx context.Context, asks []A) error) error {
	b, lead := t.join(jobID, a)
	if lead {
		unlock := s.lockJob(jobID)
		t.close(jobID, b)
		b.err = fn(context.WithoutCancel(ctx), b.asks)
		unlock()
		close(b.done)
	}
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (t *batches[A]) join(jobID int64, a A) (b *batch[A], lead bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open == nil {
		t.open = map[int64]*batch[A]{}
	}
	b, ok := t.open[jobID]
	if !ok || len(b.asks) >= maxBatch {
		b, ok = &batch[A]{done: make(chan struct{})}, false
		t.open[jobID] = b
	}
	b.asks = append(b.asks, a)
	return b, !ok
}

// close makes the batch take no more asks: the next ones open another.
func (t *batches[A]) close(jobID int64, b *batch[A]) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open[jobID] == b {
		delete(t.open, jobID)
	}
}

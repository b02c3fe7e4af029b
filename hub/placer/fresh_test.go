package placer

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Callers that ask at once share reads, and none gets the answer of a read
// that started before it asked.
func TestFreshSharesReadsAndNeverAnswersStale(t *testing.T) {
	var reads atomic.Int64
	var version atomic.Int64 // what a read sees: bumped before each call below
	f := &fresh[int64]{read: func(context.Context) (int64, error) {
		reads.Add(1)
		v := version.Load()
		time.Sleep(5 * time.Millisecond)
		return v, nil
	}}
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			asked := version.Add(1)
			got, err := f.get(t.Context())
			if err != nil {
				t.Error(err)
			}
			if got < asked {
				t.Errorf("asked after version %d, got the answer of version %d", asked, got)
			}
		}()
	}
	wg.Wait()
	if n := reads.Load(); n >= 100 {
		t.Errorf("%d reads for 100 callers at once: none shared", n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := f.get(ctx); err == nil {
		t.Error("a caller whose context ended got no error")
	}
}

package volumes

import (
	"io"
	"sync"
)

// asyncWriter hands writes to a goroutine that passes them on to w, so that
// the writer (compression) and w (hashing, disk) use two cores. At most
// depth writes wait in between; Close waits for the rest and returns the
// first error w gave.
type asyncWriter struct {
	ch   chan []byte
	done chan struct{}
	pool sync.Pool
	err  error // set by the goroutine, read after done
	w    io.Writer
}

func newAsyncWriter(w io.Writer, depth int) *asyncWriter {
	a := &asyncWriter{ch: make(chan []byte, depth), done: make(chan struct{}), w: w}
	go func() {
		defer close(a.done)
		for b := range a.ch {
			if a.err == nil {
				_, a.err = w.Write(b)
			}
			a.pool.Put(&b)
		}
	}()
	return a
}

func (a *asyncWriter) Write(p []byte) (int, error) {
	select {
	case <-a.done:
		return 0, a.err
	default:
	}
	var b []byte
	if bp, ok := a.pool.Get().(*[]byte); ok && cap(*bp) >= len(p) {
		b = (*bp)[:len(p)]
	} else {
		b = make([]byte, len(p), max(len(p), 256<<10))
	}
	copy(b, p)
	a.ch <- b
	return len(p), nil
}

// Close flushes what waits and reports w's first error.
func (a *asyncWriter) Close() error {
	close(a.ch)
	<-a.done
	return a.err
}

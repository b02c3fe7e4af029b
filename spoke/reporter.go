package spoke

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchyard-ci/switchyard/wire"
)

// reporter numbers a step's log lines and sends them to the hub in batches. It
// keeps every line until the hub has acknowledged it, so a lost connection
// resends lines rather than losing them; the hub drops lines it already has.
type reporter struct {
	a    *Agent
	as   wire.Assignment
	path string

	mu      sync.Mutex
	pending []wire.LogLine // not acknowledged yet
	next    int64
	start   bool      // the started batch is still to be sent
	begun   time.Time // when the step started
	closed  bool
	wake    chan struct{}
	done    chan struct{}
}

func newReporter(a *Agent, as wire.Assignment) *reporter {
	return &reporter{a: a, as: as, next: 1, begun: time.Now(), wake: make(chan struct{}, 1), done: make(chan struct{}),
		path: strings.Replace(wire.PathLogs, "{id}", strconv.FormatInt(as.StepID, 10), 1)}
}

// started queues the empty batch that tells the hub the step is running.
func (r *reporter) started() {
	r.mu.Lock()
	r.start, r.begun = true, time.Now()
	r.mu.Unlock()
	r.poke()
}

// Line queues one line of output.
func (r *reporter) Line(source, text string) {
	r.mu.Lock()
	r.pending = append(r.pending, wire.LogLine{Seq: r.next, Time: time.Now().Unix(), Source: source, Text: text})
	r.next++
	r.mu.Unlock()
	r.poke()
}

func (r *reporter) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// resultLines is how many unsent lines may ride with the step's result;
// more are sent as batches first.
const resultLines = 200

// startDelay is how long the step's start and first lines wait before
// they are sent: a step that ends by then reports in one call, its result,
// which spares the hub a request and a transaction.
const startDelay = 20 * time.Millisecond

// close stops the reporter once what is queued fits in the result (or the
// step's context ends) and returns it: the lines the hub has not
// acknowledged, and whether it was not told yet that the step started. A
// short step reports in one call, its result.
func (r *reporter) close() (lines []wire.LogLine, unstarted bool) {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.poke()
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pending, r.start
}

// run sends batches until closed with what is left fitting in the result.
func (r *reporter) run(ctx context.Context) {
	defer close(r.done)
	for {
		r.mu.Lock()
		if r.closed && len(r.pending) <= resultLines {
			r.mu.Unlock()
			return // the rest goes with the result
		}
		batch := append([]wire.LogLine(nil), r.pending...)
		if len(batch) > 1000 {
			batch = batch[:1000]
		}
		send := len(batch) > 0 || r.start
		hold := startDelay - time.Since(r.begun)
		if hold > 0 && len(r.pending) <= resultLines {
			send = false // the step may end first
		}
		r.mu.Unlock()
		if send {
			var sent bool
			r.a.retry(ctx, "report logs", func() error {
				err := r.a.call(ctx, http.MethodPost, r.path, wire.LogBatch{Fence: r.as.Fence, Lines: batch}, nil, true)
				sent = err == nil
				return err
			})
			if !sent {
				return // stale or stopping
			}
			r.mu.Lock()
			r.pending = r.pending[len(batch):]
			r.start = false
			r.mu.Unlock()
			continue
		}
		wait := 200 * time.Millisecond
		if hold > 0 {
			wait = hold
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-time.After(wait):
		}
	}
}

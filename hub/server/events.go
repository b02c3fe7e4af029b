package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/notify"
	"github.com/switchyard-ci/switchyard/hub/store"
)

// buildEvents streams a build's events as Concourse's SSE: ids from 0 with no
// gaps, then `end` once the build is finished and everything was sent. It reads
// from the store, so it works on any replica and after restarts.
func (s *Server) buildEvents(w http.ResponseWriter, r *http.Request, c *caller) error {
	b, err := s.buildFromPath(r)
	if err != nil {
		return err
	}
	var after int64 // store sequence numbers start at 1; SSE ids at 0
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("after") // a page that read the log so far (GET .../log) goes on from there
	}
	if last != "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < -1 {
			return errorf(http.StatusBadRequest, "Last-Event-ID and after must be an event id")
		}
		after = n + 1
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		return errorf(http.StatusInternalServerError, "streaming unsupported")
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("X-Accel-Buffering", "no")
	h.Set("X-ATC-Stream-Version", "2.0")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()

	ctx := r.Context()
	lastWrite := time.Now()
	// A read that fails for a moment (a retried transaction, a database
	// fail-over) is tried again: a client that takes a closed stream for
	// the build's end would report it wrongly.
	failures := 0
	again := func(err error) bool {
		if failures++; ctx.Err() != nil || failures > 5 {
			s.log.WarnContext(ctx, "build events: giving up the stream", "build", b.ID, "error", err.Error())
			return false
		}
		notify.Await(ctx, nil, time.Duration(failures)*200*time.Millisecond)
		return true
	}
	for {
		changed := s.notify.Watch(notify.EventsKey(b.ID))
		events, err := s.store.Events(ctx, b.ID, after, 500)
		if err != nil {
			if !again(err) {
				return nil // the client is gone or the store is; the client reconnects
			}
			continue
		}
		for _, e := range events {
			env := envelope(e)
			data, _ := json.Marshal(env)
			if _, err := fmt.Fprintf(w, "id: %s\nevent: event\ndata: %s\n\n", env.EventID, data); err != nil {
				return nil
			}
			after = e.Seq
		}
		if len(events) > 0 {
			failures = 0
			flusher.Flush()
			lastWrite = time.Now()
			continue
		}
		cur, err := s.store.Build(ctx, b.ID)
		if err != nil {
			if !again(err) {
				return nil
			}
			continue
		}
		failures = 0
		if cur.Status.Finished() {
			// Events of the final status are written with it, so none can follow.
			more, err := s.store.Events(ctx, b.ID, after, 1)
			if err != nil && !again(err) {
				return nil
			}
			if err == nil && len(more) == 0 {
				fmt.Fprintf(w, "id: %d\nevent: end\ndata\n\n", after)
				flusher.Flush()
				return nil
			}
			continue
		}
		if time.Since(lastWrite) > 15*time.Second {
			fmt.Fprint(w, ": keepalive\n\n")
			flusher.Flush()
			lastWrite = time.Now()
		}
		notify.Await(ctx, changed, 500*time.Millisecond)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// envelope is a stored event as the API sends it; its SSE id counts from
// 0 where the store's sequence counts from 1.
func envelope(e store.Event) api.Envelope {
	return api.Envelope{Data: e.Payload, Event: e.Type, Version: e.Version, EventID: strconv.FormatInt(e.Seq-1, 10)}
}

// The log a page reads at once (GET /api/v1/builds/B/log): its last
// logTail lines, read newest first logPage events at a time, and at most
// maxLogBytes of earlier lines when the page asks for them (?before=).
const (
	logTail     = 5000
	logPage     = 2000
	maxLogBytes = 64 << 20
)

// buildLog answers a build's events so far in one document, log lines
// joined (api.BuildLog): the last logTail lines with every other event, for
// a page to show a long log at once and stream on from its end; or, with
// ?before=SEQ, the log lines before that event.
func (s *Server) buildLog(w http.ResponseWriter, r *http.Request, c *caller) error {
	b, err := s.buildFromPath(r)
	if err != nil {
		return err
	}
	out := api.BuildLog{Chunks: []api.LogChunk{}, Events: []api.Envelope{}, LastID: -1}
	if v := r.URL.Query().Get("before"); v != "" {
		before, err := strconv.ParseInt(v, 10, 64)
		if err != nil || before < 1 {
			return errorf(http.StatusBadRequest, "before must be an event's sequence number")
		}
		var logs []store.Event
		for after, size := int64(0), 0; size < maxLogBytes; {
			events, err := s.store.Events(r.Context(), b.ID, after, logPage)
			if err != nil {
				return err
			}
			for _, e := range events {
				if e.Seq >= before {
					break
				}
				after = e.Seq
				if e.Type == api.EventLog {
					logs = append(logs, e)
					size += len(e.Payload)
				}
			}
			if len(events) < logPage || after != events[len(events)-1].Seq {
				break
			}
		}
		out.Chunks, _ = joinLog(logs)
		out.Before = 1
		return writeJSON(w, http.StatusOK, out)
	}
	// The tail: log events newest first until logTail lines.
	var logs []store.Event
	newest, lines, before := int64(-1), 0, int64(math.MaxInt64)
	for lines < logTail {
		events, err := s.store.EventsBefore(r.Context(), b.ID, before, logPage)
		if err != nil {
			return err
		}
		for _, e := range events {
			newest, before = max(newest, e.Seq), e.Seq
			if e.Type == api.EventLog && lines < logTail {
				logs = append(logs, e)
				lines += bytes.Count(e.Payload, []byte(`\n`))
			}
		}
		if len(events) < logPage {
			before = 1 // every event read: nothing is earlier
		}
		if before <= 1 {
			break
		}
	}
	slices.Reverse(logs)
	out.Before = 1
	if before > 1 && len(logs) > 0 {
		out.Before = logs[0].Seq // the tail is full: earlier lines wait for ?before=
	}
	out.Chunks, _ = joinLog(logs)
	if newest > 0 {
		others, err := s.store.EventsNotOf(r.Context(), b.ID, api.EventLog, newest)
		if err != nil {
			return err
		}
		for _, e := range others {
			out.Events = append(out.Events, envelope(e))
		}
		out.LastID = newest - 1
	}
	cur, err := s.store.Build(r.Context(), b.ID)
	if err != nil {
		return err
	}
	if cur.Status.Finished() {
		more, err := s.store.Events(r.Context(), b.ID, max(newest, 0), 1)
		out.Ended = err == nil && len(more) == 0
	}
	return writeJSON(w, http.StatusOK, out)
}

// joinLog joins log events into chunks of one step, source and second.
func joinLog(events []store.Event) ([]api.LogChunk, int) {
	chunks := []api.LogChunk{}
	var texts []*strings.Builder
	size := 0
	for _, e := range events {
		var l api.LogEvent
		if json.Unmarshal(e.Payload, &l) != nil {
			continue
		}
		size += len(l.Payload)
		if n := len(chunks); n > 0 {
			if last := &chunks[n-1]; last.Origin == l.Origin.ID && last.Source == l.Origin.Source && last.Time == l.Time {
				texts[n-1].WriteString(l.Payload)
				continue
			}
		}
		chunks = append(chunks, api.LogChunk{Origin: l.Origin.ID, Source: l.Origin.Source, Time: l.Time})
		texts = append(texts, &strings.Builder{})
		texts[len(texts)-1].WriteString(l.Payload)
	}
	for i := range chunks {
		chunks[i].Text = texts[i].String()
	}
	return chunks, size
}

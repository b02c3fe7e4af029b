package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/notify"
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
	for {
		changed := s.notify.Watch(notify.EventsKey(b.ID))
		events, err := s.store.Events(ctx, b.ID, after, 500)
		if err != nil {
			return nil // the client is gone or the store is; the client reconnects
		}
		for _, e := range events {
			id := strconv.FormatInt(e.Seq-1, 10)
			env, _ := json.Marshal(api.Envelope{Data: e.Payload, Event: e.Type, Version: e.Version, EventID: id})
			if _, err := fmt.Fprintf(w, "id: %s\nevent: event\ndata: %s\n\n", id, env); err != nil {
				return nil
			}
			after = e.Seq
		}
		if len(events) > 0 {
			flusher.Flush()
			lastWrite = time.Now()
			continue
		}
		cur, err := s.store.Build(ctx, b.ID)
		if err != nil {
			return nil
		}
		if cur.Status.Finished() {
			// Events of the final status are written with it, so none can follow.
			if more, _ := s.store.Events(ctx, b.ID, after, 1); len(more) == 0 {
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

// maxLogBytes bounds what GET /api/v1/builds/B/log answers at once: the
// page streams the rest. The events are read logPage at a time.
const (
	maxLogBytes = 64 << 20
	logPage     = 20000
)

// buildLog answers a build's events so far in one document, log lines
// joined (api.BuildLog), for a page to show a long log at once and stream
// from where it ends.
func (s *Server) buildLog(w http.ResponseWriter, r *http.Request, c *caller) error {
	b, err := s.buildFromPath(r)
	if err != nil {
		return err
	}
	out := api.BuildLog{Chunks: []api.LogChunk{}, Events: []api.Envelope{}, LastID: -1}
	var texts []*strings.Builder // each chunk's text as it grows
	var after int64
	for size := 0; size < maxLogBytes; {
		events, err := s.store.Events(r.Context(), b.ID, after, logPage)
		if err != nil {
			return err
		}
		for _, e := range events {
			after, out.LastID = e.Seq, e.Seq-1
			var l api.LogEvent
			if e.Type != api.EventLog || json.Unmarshal(e.Payload, &l) != nil {
				size += len(e.Payload)
				out.Events = append(out.Events, api.Envelope{Data: e.Payload, Event: e.Type, Version: e.Version, EventID: strconv.FormatInt(e.Seq-1, 10)})
				continue
			}
			size += len(l.Payload)
			if n := len(out.Chunks); n > 0 {
				if last := &out.Chunks[n-1]; last.Origin == l.Origin.ID && last.Source == l.Origin.Source && last.Time == l.Time {
					texts[n-1].WriteString(l.Payload)
					continue
				}
			}
			out.Chunks = append(out.Chunks, api.LogChunk{Origin: l.Origin.ID, Source: l.Origin.Source, Time: l.Time})
			texts = append(texts, &strings.Builder{})
			texts[len(texts)-1].WriteString(l.Payload)
		}
		if len(events) < logPage {
			break
		}
	}
	for i := range out.Chunks {
		out.Chunks[i].Text = texts[i].String()
	}
	cur, err := s.store.Build(r.Context(), b.ID)
	if err != nil {
		return err
	}
	if cur.Status.Finished() {
		more, err := s.store.Events(r.Context(), b.ID, after, 1)
		out.Ended = err == nil && len(more) == 0
	}
	return writeJSON(w, http.StatusOK, out)
}

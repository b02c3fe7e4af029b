package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
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
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return errorf(http.StatusBadRequest, "Last-Event-ID must be a number")
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

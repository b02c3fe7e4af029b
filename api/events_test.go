package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/switchyard-ci/switchyard/api"
)

// A stream the hub closes before the build's end event (a restart, a store
// it could not read) is opened again from the last id: the reader sees
// every event once and stops at end, not at the first close.
func TestEventsReconnectUntilEnd(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.Header.Get("Last-Event-ID"))
		n := len(asked)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		from := 0
		if last := r.Header.Get("Last-Event-ID"); last != "" {
			i, _ := strconv.Atoi(last)
			from = i + 1
		}
		// Two events per connection; the third connection ends the build.
		for i := from; i < from+2; i++ {
			fmt.Fprintf(w, "id: %d\nevent: event\ndata: {\"event\":\"log\",\"data\":{\"payload\":\"line %d\\n\"}}\n\n", i, i)
		}
		if n == 3 {
			fmt.Fprintf(w, "id: %d\nevent: end\ndata\n\n", from+2)
		}
	}))
	defer srv.Close()
	var got []string
	c := &api.Client{URL: srv.URL}
	err := c.Events(t.Context(), 7, func(e api.Envelope) bool {
		got = append(got, string(e.Data))
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 || !strings.Contains(got[5], "line 5") {
		t.Fatalf("events: %q", got)
	}
	if strings.Join(asked, ",") != ",1,3" {
		t.Fatalf("Last-Event-ID of each connection: %q, want \"\", 1, 3", asked)
	}
}

// A hub that keeps closing the stream with nothing in it is not asked
// forever: the reader gives up after a few tries and says so.
func TestEventsGiveUpOnAnEmptyStream(t *testing.T) {
	var mu sync.Mutex
	tries := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tries++
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
	}))
	defer srv.Close()
	c := &api.Client{URL: srv.URL}
	err := c.Events(t.Context(), 7, func(api.Envelope) bool { return true })
	if err == nil || !strings.Contains(err.Error(), "closed 6 times before the build ended") {
		t.Fatalf("err = %v", err)
	}
	if tries != 6 {
		t.Fatalf("%d connections, want 6", tries)
	}
}

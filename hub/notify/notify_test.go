package notify_test

import (
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/hub/notify"
)

// A notification that comes between Watch and Await is not lost: Await
// returns at once rather than at its poll. (When waiters registered only as
// they began to wait, a step that ended within milliseconds left its build
// waiting for the next poll.)
func TestNotifyBetweenWatchAndAwaitIsKept(t *testing.T) {
	n := notify.New()
	changed := n.Watch("k")
	n.Notify("k")
	done := make(chan struct{})
	go func() {
		notify.Await(t.Context(), changed, time.Hour)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Await missed a notification that came before it began")
	}
	// The next Watch waits for the next notification.
	select {
	case <-n.Watch("k"):
		t.Fatal("a new watch saw the old notification")
	default:
	}
}

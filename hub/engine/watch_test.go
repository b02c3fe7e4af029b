package engine

import (
	"encoding/json"
	"testing"

	"github.com/switchyard-ci/switchyard/hub/store"
)

// A step's end that the gateway stored is kept for the step's waiter in
// this process, once; ends of steps nobody here waits on are not kept (a
// build another replica runs), nor are those left when the wait ends.
func TestWatcherHandsAStoredEndToItsWaiter(t *testing.T) {
	w := newWatcher()
	end := stepEnd{state: store.StepSucceeded, result: json.RawMessage(`{"exit_status":0}`)}

	w.end(1, end)
	if _, ok := w.takeEnd(1); ok {
		t.Fatal("the end of a step nobody waits on was kept")
	}

	done := w.step(2, 10)
	if _, ok := w.takeEnd(2); ok {
		t.Fatal("an end was handed before the step ended")
	}
	w.end(2, end)
	got, ok := w.takeEnd(2)
	if !ok || got.state != store.StepSucceeded || string(got.result) != string(end.result) {
		t.Fatalf("the waiter got %+v, %v; want %+v", got, ok, end)
	}
	if _, ok := w.takeEnd(2); ok {
		t.Fatal("an end was handed twice")
	}

	w.end(2, end)
	done()
	if len(w.ended) != 0 {
		t.Fatalf("ends left after the wait ended: %v", w.ended)
	}
}

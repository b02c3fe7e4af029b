package schedule

import (
	"reflect"
	"testing"
)

func TestDecide(t *testing.T) {
	b := func(id int64) Pending { return Pending{ID: id} }
	rerun := func(id int64, inputs bool) Pending { return Pending{ID: id, Rerun: true, OriginalHasInputs: inputs} }
	start := func(id int64, first bool) Start { return Start{ID: id, FirstOccurrence: first} }
	for _, tt := range []struct {
		name string
		job  Job
		want Decision
	}{
		{"nothing new, nothing pending", Job{InputsOK: true}, Decision{}},
		{"new trigger inputs create a build and start it with their first occurrences",
			Job{InputsOK: true, NewInputs: true}, Decision{Create: true, Start: []Start{start(0, true)}}},
		{"new inputs that did not all resolve create nothing",
			Job{NewInputs: true}, Decision{}},
		{"a pending build is enough: it starts with the new inputs",
			Job{InputsOK: true, NewInputs: true, Pending: []Pending{b(7)}}, Decision{Start: []Start{start(7, true)}}},
		{"a paused job creates and starts nothing",
			Job{Paused: true, InputsOK: true, NewInputs: true, Pending: []Pending{b(7)}}, Decision{}},
		{"pending builds start oldest first; only the first gets first occurrences",
			Job{InputsOK: true, Pending: []Pending{b(3), b(5), b(9)}}, Decision{Start: []Start{start(3, true), start(5, false), start(9, false)}}},
		{"unresolved inputs hold a manual build and every build after it",
			Job{Pending: []Pending{b(3), rerun(4, true)}}, Decision{}},
		{"a rerun before unresolved inputs still starts, with its original's inputs",
			Job{Pending: []Pending{rerun(2, true), b(3)}}, Decision{Start: []Start{{ID: 2, Rerun: true}}}},
		{"a rerun whose original has no inputs stays pending; the next starts",
			Job{InputsOK: true, Pending: []Pending{rerun(2, false), b(3)}}, Decision{Start: []Start{start(3, true)}}},
		{"max_in_flight counts running builds",
			Job{InputsOK: true, MaxInFlight: 2, Running: 1, Pending: []Pending{b(3), b(4)}}, Decision{Start: []Start{start(3, true)}}},
		{"max_in_flight counts the builds this decision starts",
			Job{InputsOK: true, MaxInFlight: 2, Pending: []Pending{b(3), rerun(4, true), b(5)}}, Decision{Start: []Start{start(3, true), {ID: 4, Rerun: true}}}},
		{"a rerun left pending takes no room",
			Job{InputsOK: true, MaxInFlight: 1, Pending: []Pending{rerun(2, false), b(3)}}, Decision{Start: []Start{start(3, true)}}},
		{"serial: nothing starts while a build runs, but the trigger build is created",
			Job{InputsOK: true, NewInputs: true, MaxInFlight: 1, Running: 1}, Decision{Create: true}},
		{"serial group: an older pending build of a peer goes first",
			Job{InputsOK: true, MaxInFlight: 1, OldestPeerPending: 2, Pending: []Pending{b(3)}}, Decision{}},
		{"serial group: a newer pending build of a peer waits for ours",
			Job{InputsOK: true, MaxInFlight: 1, OldestPeerPending: 8, Pending: []Pending{b(3)}}, Decision{Start: []Start{start(3, true)}}},
		{"serial group: the build being created is newer than any peer's",
			Job{InputsOK: true, NewInputs: true, MaxInFlight: 1, OldestPeerPending: 8}, Decision{Create: true}},
		{"serial group: peers' running builds count",
			Job{InputsOK: true, MaxInFlight: 3, Running: 2, Pending: []Pending{b(3), b(4)}}, Decision{Start: []Start{start(3, true)}}},
		{"no max_in_flight: peers do not matter",
			Job{InputsOK: true, Running: 50, OldestPeerPending: 1, Pending: []Pending{b(3)}}, Decision{Start: []Start{start(3, true)}}},
		{"versions left for later: a start asks for another round",
			Job{InputsOK: true, NewInputs: true, HasNext: true}, Decision{Create: true, Start: []Start{start(0, true)}, Again: true}},
		{"versions left for later, nothing started: no round until something finishes",
			Job{InputsOK: true, HasNext: true, MaxInFlight: 1, Running: 1, Pending: []Pending{b(3)}}, Decision{}},
		{"more pending than were read: starting them all asks for another round",
			Job{InputsOK: true, Pending: []Pending{b(3), b(4)}, MorePending: true}, Decision{Start: []Start{start(3, true), start(4, false)}, Again: true}},
		{"more pending than were read, a rerun left pending: another round",
			Job{InputsOK: true, Pending: []Pending{b(3), rerun(4, false)}, MorePending: true}, Decision{Start: []Start{start(3, true)}, Again: true}},
		{"more pending than were read, held by max_in_flight: no round until something finishes",
			Job{InputsOK: true, MaxInFlight: 1, Pending: []Pending{b(3), b(4)}, MorePending: true}, Decision{Start: []Start{start(3, true)}}},
		{"more pending than were read, held by inputs that do not resolve: no round",
			Job{Pending: []Pending{b(3)}, MorePending: true}, Decision{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Decide(tt.job); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decide(%+v)\n got %+v\nwant %+v", tt.job, got, tt.want)
			}
		})
	}
}

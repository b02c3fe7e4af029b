package engine

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A run of an across step: the values in place of their references (typed
// where the field allows, text where it wants a string), other references
// kept, ids made its own.
func TestAcrossSubstep(t *testing.T) {
	var template any
	if err := json.Unmarshal([]byte(`{"id":"7","do":[
		{"id":"8","get":{"name":"r","type":"mock","source":{"v":"((.:ver))","m":"((.:conf.region))"},"params":{"list":"((.:ver))"}}},
		{"id":"9","put":{"name":"o","type":"mock","source":{"a":"at ((.:ver)) and ((other))"}}},
		{"id":"10","get":{"name":"o","type":"mock","version_from":"9"}}]}`), &template); err != nil {
		t.Fatal(err)
	}
	p, err := substep(template, map[string]any{"ver": float64(2), "conf": map[string]any{"region": "eu"}}, "/3")
	if err != nil {
		t.Fatal(err)
	}
	steps := *p.Do
	if p.ID != "7/3" || steps[0].ID != "8/3" || steps[2].Get.VersionFrom != "9/3" {
		t.Errorf("ids: %s %s %s", p.ID, steps[0].ID, steps[2].Get.VersionFrom)
	}
	want := map[string]any{"v": float64(2), "m": "eu"}
	if diff := cmp.Diff(want, steps[0].Get.Source); diff != "" {
		t.Errorf("typed values: %s", diff)
	}
	if got := steps[1].Put.Source["a"]; got != "at 2 and ((other))" {
		t.Errorf("inside a string, others kept: %q", got)
	}

	for in, want := range map[any]int{nil: 1, "all": 5, float64(2): 2, "3": 3} {
		if got, err := maxInFlight(in, 5); err != nil || got != want {
			t.Errorf("max_in_flight %v = %d %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []any{float64(0), "some", float64(1.5)} {
		if _, err := maxInFlight(bad, 5); err == nil {
			t.Errorf("max_in_flight %v accepted", bad)
		}
	}
}

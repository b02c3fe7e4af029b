package setpipeline_test

import (
	"testing"

	"github.com/switchyard-ci/switchyard/hub/setpipeline"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/pipeline"
)

// A job's build_log_retention (or the deprecated build_logs_to_retain)
// reaches the row the reaper reads.
func TestParamsCarryRetention(t *testing.T) {
	loaded, err := pipeline.Load([]byte(`
jobs:
- name: a
  build_log_retention: {builds: 5, days: 3, minimum_succeeded_builds: 2}
  plan: [{task: t, config: {platform: linux, run: {path: "true"}}}]
- name: b
  build_logs_to_retain: 7
  plan: [{task: t, config: {platform: linux, run: {path: "true"}}}]
- name: c
  plan: [{task: t, config: {platform: linux, run: {path: "true"}}}]
`), pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	params, err := setpipeline.Params(loaded)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]store.Retention{"a": {Builds: 5, Days: 3, MinSucceeded: 2}, "b": {Builds: 7}, "c": {}}
	for _, j := range params.Jobs {
		if j.Job.Retention != want[j.Name] {
			t.Errorf("job %s: retention %+v, want %+v", j.Name, j.Job.Retention, want[j.Name])
		}
	}
}

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/api"
)

// Two hubs on one database schedule every job exactly once, and when one of
// them is killed the other takes over its pipelines and builds: no version is
// built twice and no build is lost.
func TestTwoHubsOneKilled(t *testing.T) {
	f := newFleet(t) // hub A
	second := freeAddr(t)
	bURL := "http://" + second
	f.start("hub-b", "hub", "--listen", second, "--database-url", f.db,
		"--add-local-user", "admin:secret", "--main-team-local-user", "admin",
		"--spoke-join-token", "pool-token", "--build-lease", "2s", "--artifact-store", f.artifactStore())
	f.startSpoke("local-1", bURL) // the spoke talks to B, which survives
	f.setPipeline("twice", `
resources:
- name: repo
  type: mock
  check_every: never
  source: {no_initial_version: true}
jobs:
- name: each
  serial: true # every+passed follows build order: upstream builds must end in order
  plan:
  - get: repo
    trigger: true
    version: every
  - task: work
    config:
      platform: linux
      inputs: [{name: repo}]
      run: {path: sh, args: [-c, "cat repo/version; sleep 0.3"]}
- name: after
  plan:
  - get: repo
    trigger: true
    version: every
    passed: [each]
`)
	f.mustFly("check-resource", "-r", "twice/repo", "-f", "version:v00")
	f.watchWhenCreated("twice/each", "1", time.Minute)
	f.watchWhenCreated("twice/after", "1", time.Minute) // every starts at the latest: start both on v00
	const versions = 12
	for i := 1; i < versions; i++ {
		f.mustFly("check-resource", "-a", "-r", "twice/repo", "-f", fmt.Sprintf("version:v%02d", i))
		if i == versions/2 {
			f.killHub() // hub A dies mid-stream, holding whatever it held
			f.mustFly("login", "-c", bURL, "-u", "admin", "-p", "secret")
		}
	}

	c := &api.Client{URL: bURL, Token: f.tokenFrom(bURL)}
	wait, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ctx := t.Context()
	for _, job := range []string{"each", "after"} {
		got := waitForBuilds(wait, t, c, "twice", job, versions)
		seen := map[string]int64{}
		for _, b := range got {
			if b.Status != "succeeded" {
				t.Errorf("%s #%s ended %s", job, b.Name, b.Status)
			}
			var io api.BuildInputsOutputs
			if err := c.Get(ctx, fmt.Sprintf("/api/v1/builds/%d/resources", b.ID), &io); err != nil {
				t.Fatal(err)
			}
			if len(io.Inputs) != 1 {
				t.Fatalf("%s #%s has inputs %+v", job, b.Name, io.Inputs)
			}
			v := io.Inputs[0].Version["version"]
			if prev, dup := seen[v]; dup {
				t.Errorf("%s built %s twice: builds %d and %d", job, v, prev, b.ID)
			}
			seen[v] = b.ID
		}
		if len(seen) != versions {
			t.Errorf("%s built %d of %d versions: %v", job, len(seen), versions, seen)
		}
		if len(got) != versions {
			t.Errorf("%s has %d builds for %d versions", job, len(got), versions)
		}
	}
}

// waitForBuilds waits until a job has n finished builds and no running ones,
// and a little longer to catch extra builds.
func waitForBuilds(ctx context.Context, t *testing.T, c *api.Client, pipeline, job string, n int) []api.Build {
	t.Helper()
	path := api.PipelinePath("main", pipeline) + "/jobs/" + job + "/builds?limit=100"
	settled := 0
	for {
		var bs []api.Build
		if err := c.Get(ctx, path, &bs); err != nil {
			t.Fatalf("builds of %s: %v", job, err)
		}
		done := 0
		for _, b := range bs {
			if b.Status != "pending" && b.Status != "started" {
				done++
			}
		}
		if done == len(bs) && done >= n {
			settled++
			if settled == 3 {
				return bs
			}
		} else {
			settled = 0
		}
		select {
		case <-ctx.Done():
			var names []string
			for _, b := range bs {
				names = append(names, b.Name+":"+string(b.Status))
			}
			t.Errorf("%s has %d finished builds of %d, want %d: %s", job, done, len(bs), n, strings.Join(names, " "))
			return bs
		case <-time.After(time.Second):
		}
	}
}

// tokenFrom logs admin in at a hub.
func (f *fleet) tokenFrom(hubURL string) string {
	f.t.Helper()
	saved := f.url
	f.url = hubURL
	defer func() { f.url = saved }()
	return f.token()
}

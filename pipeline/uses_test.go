package pipeline

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// What admission policies are asked about each task: an image: of a
// registry-image get is that resource's image; other artifacts keep their
// names; image_resource gives its repository and tag.
func TestTaskUses(t *testing.T) {
	p, err := Load([]byte(`
resources:
- name: app-image
  type: registry-image
  source: {repository: registry.example.com/app, tag: "1"}
- name: repo
  type: git
  source: {uri: https://example.com/repo.git}
jobs:
- name: build
  plan:
  - get: tool
    resource: app-image
  - get: repo
  - task: in-image
    image: tool
    privileged: true
    config: {platform: linux, run: {path: "true"}}
  - task: in-artifact
    image: repo
    config: {platform: linux, run: {path: "true"}}
  - task: from-resource
    config:
      platform: linux
      image_resource: {type: registry-image, source: {repository: busybox}}
      run: {path: "true"}
`), Options{File: "p.yml"})
	if err != nil {
		t.Fatal(err)
	}
	want := []TaskUse{
		{Job: "build", Step: "in-image", Image: "registry.example.com/app:1", Privileged: true},
		{Job: "build", Step: "in-artifact", Image: "repo"},
		{Job: "build", Step: "from-resource", Image: "busybox"},
	}
	if diff := cmp.Diff(want, p.Config.TaskUses()); diff != "" {
		t.Error(diff)
	}
}

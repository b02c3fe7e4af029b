package api

import "testing"

// Instance refs ride in the path and reach the hub as vars=JSON, after
// whatever the caller appended; a plain pipeline's path is untouched.
func TestPipelinePathOfAnInstance(t *testing.T) {
	for ref, want := range map[string]string{
		"ci":                      "/api/v1/teams/main/pipelines/ci/jobs/j?limit=5",
		"ci/branch:main":          "/api/v1/teams/main/pipelines/ci/jobs/j?limit=5&vars=%7B%22branch%22%3A%22main%22%7D",
		"ci/n:1,a.b:x":            "/api/v1/teams/main/pipelines/ci/jobs/j?limit=5&vars=%7B%22a%22%3A%7B%22b%22%3A%22x%22%7D%2C%22n%22%3A1%7D",
		"ci/bad":                  "/api/v1/teams/main/pipelines/ci%2Fbad/jobs/j?limit=5",
		"semi;vars=x/branch:main": "/api/v1/teams/main/pipelines/semi%3Bvars=x/jobs/j?limit=5&vars=%7B%22branch%22%3A%22main%22%7D",
	} {
		if got := moveInstanceVars(PipelinePath("main", ref) + "/jobs/j?limit=5"); got != want {
			t.Errorf("%s:\n got %s\nwant %s", ref, got, want)
		}
	}
	if got := FlattenInstanceVars(`{"a":{"b":"x"},"n":1}`); got != "a.b:x,n:1" {
		t.Errorf("flattened: %s", got)
	}
}

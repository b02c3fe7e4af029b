package web

import (
	"slices"
	"testing"
)

// The graph of a small pipeline: repo feeds build (triggering), build's
// output passes to test, test to ship (not triggering), ship puts
// release; nodes are in columns by depth, edges as the config says.
func TestLayoutFollowsTheConfig(t *testing.T) {
	g := Layout([]GraphJob{
		{Name: "build", Status: "succeeded", Inputs: []GraphInput{{Resource: "repo", Trigger: true}}},
		{Name: "test", Status: "failed", Running: true, Inputs: []GraphInput{{Resource: "repo", Passed: []string{"build"}, Trigger: true}, {Resource: "tools"}}},
		{Name: "ship", Inputs: []GraphInput{{Resource: "repo", Passed: []string{"test"}}}, Outputs: []string{"release"}},
	}, []GraphResource{{Name: "repo", Pinned: true}, {Name: "tools"}, {Name: "release"}})
	var edges []string
	for _, e := range g.Edges {
		s := e.From + " -> " + e.To
		if e.Dashed {
			s += " (dashed)"
		}
		edges = append(edges, s)
	}
	want := []string{"resource-repo -> job-build", "job-build -> job-test", "resource-tools -> job-test (dashed)", "job-test -> job-ship (dashed)", "job-ship -> resource-release"}
	if !slices.Equal(edges, want) {
		t.Errorf("edges %q, want %q", edges, want)
	}
	x := map[string]int{}
	class := map[string]string{}
	for _, n := range g.Nodes {
		x[n.ID], class[n.ID] = n.X, n.Class
	}
	if !(x["resource-repo"] < x["job-build"] && x["job-build"] < x["job-test"] && x["job-test"] < x["job-ship"] && x["job-ship"] < x["resource-release"]) {
		t.Errorf("columns do not follow the flow: %v", x)
	}
	if class["job-test"] != "job failed running" || class["job-ship"] != "job no-builds" || class["resource-repo"] != "resource  pinned" {
		t.Errorf("classes: %v", class)
	}
	if x["resource-tools"] != x["job-build"] {
		t.Errorf("tools, which only ship gets, is not in the column just before ship: %v", x)
	}
	if g.Width <= 0 || g.Height <= 0 {
		t.Errorf("size %dx%d", g.Width, g.Height)
	}
}

// A cycle (a job passed by a job it passes) still lays out.
func TestLayoutCutsCycles(t *testing.T) {
	g := Layout([]GraphJob{
		{Name: "a", Inputs: []GraphInput{{Resource: "r", Passed: []string{"b"}}}},
		{Name: "b", Inputs: []GraphInput{{Resource: "r", Passed: []string{"a"}}}},
	}, nil)
	if len(g.Nodes) != 2 || len(g.Edges) != 2 {
		t.Fatalf("%+v", g)
	}
}

// A path's suffix goes before an instanced pipeline's ?vars=.
func TestJoin(t *testing.T) {
	for _, c := range [][3]string{
		{"/api/v1/teams/t/pipelines/p", "/pause", "/api/v1/teams/t/pipelines/p/pause"},
		{"/api/v1/teams/t/pipelines/p?vars=%7B%22a%22%3A1%7D", "/jobs/j/builds", "/api/v1/teams/t/pipelines/p/jobs/j/builds?vars=%7B%22a%22%3A1%7D"},
	} {
		if got := Join(c[0], c[1]); got != c[2] {
			t.Errorf("Join(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}

package pipeline

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Each hostile document must be refused with an error that says why. None of these
// would finish (or fit in memory) without the limits.
func TestHostileYAML(t *testing.T) {
	bomb := func(levels int) string {
		var b strings.Builder
		b.WriteString("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
		for i := 1; i < levels; i++ {
			refs := strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10)
			fmt.Fprintf(&b, "l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(refs, ", "))
		}
		fmt.Fprintf(&b, "jobs: [*l%d]\n", levels-1)
		return b.String()
	}
	tests := []struct {
		name string
		yaml string
		lim  Limits
		want string
	}{
		{"billion laughs", bomb(10), Limits{}, "through aliases"},
		{"small bomb over a small limit", bomb(4), Limits{MaxNodes: 1000}, "more than 1000 nodes"},
		{"merge key bomb", bomb(9) + "x:\n  <<: *l8\n", Limits{}, "through aliases"},
		{"deep flow nesting", "jobs: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000), Limits{}, "deep"},
		{"deep block nesting", deepBlock(100), Limits{}, "deep"},
		{"too big", "jobs: []\n" + strings.Repeat("# padding\n", 1000), Limits{MaxBytes: 1000}, "over the limit of 1000"},
		{"recursive alias", "a: &a [*a]\n", Limits{}, "alias"},
		{"large anchored string referenced often", "a: &a " + strings.Repeat("x", 1<<20) + "\nb: [" + strings.TrimSuffix(strings.Repeat("*a, ", 100), ", ") + "]\njobs: []\n", Limits{}, "more than 16777216 bytes"},
		{"anchored string through nested aliases", "a: &a " + strings.Repeat("x", 1<<10) + "\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\njobs: []\n", Limits{MaxExpandedBytes: 1 << 18}, "through aliases"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load([]byte(tt.yaml), Options{File: "hostile.yml", Limits: tt.lim})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "hostile.yml") {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

// Vars count toward the expanded size too: a large var referenced often, or
// inside an anchored value that is referenced often, is refused.
func TestHostileVars(t *testing.T) {
	big := Vars{"big": strings.Repeat("v", 1<<20)}
	for name, yaml := range map[string]string{
		"many references":           "jobs: [{name: j, plan: [{task: t, config: {platform: linux, run: {path: sh, args: [" + strings.TrimSuffix(strings.Repeat("((big)), ", 40), ", ") + "]}}}]}]\n",
		"in one string":             "jobs: [{name: j, plan: [{task: t, config: {platform: linux, params: {A: " + strings.Repeat("((big))", 40) + "}, run: {path: sh}}}]}]\n",
		"through an anchored value": "a: &a [((big))]\nb: [" + strings.TrimSuffix(strings.Repeat("*a, ", 40), ", ") + "]\njobs: []\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load([]byte(yaml), Options{File: "p.yml", Vars: big})
			if err == nil || !strings.Contains(err.Error(), "bytes") {
				t.Fatalf("got %v, want a size error", err)
			}
		})
	}
	y := Vars{}
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]"
	if err := y.SetYAML("v=" + bomb); err == nil || !strings.Contains(err.Error(), "aliases") {
		t.Fatalf("fly -y with an alias bomb: got %v", err)
	}
}

func deepBlock(depth int) string {
	var b strings.Builder
	b.WriteString("jobs:\n")
	for i := range depth {
		fmt.Fprintf(&b, "%s- k:\n", strings.Repeat("  ", i+1))
	}
	return b.String()
}

// Anchors used the way real pipelines use them stay within the default limits.
func TestAnchorsWithinLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("task-config: &cfg\n  platform: linux\n  run: {path: make, args: [a, b, c, d, e, f]}\n  params: {A: 1, B: 2, C: 3}\nresources:\n- {name: repo, type: git}\njobs:\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "- name: job-%d\n  plan:\n  - get: repo\n  - task: t\n    config: *cfg\n", i)
	}
	if _, err := Load([]byte(b.String()), Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestErrorsNameFileLineAndField(t *testing.T) {
	_, err := Load([]byte("jobs:\n- name: a\n  plan:\n  - get: repo\n"), Options{File: "p.yml"})
	var list Errors
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("got %v", err)
	}
	want := Error{File: "p.yml", Line: 4, Where: `job "a": plan[0]: get step "repo"`, Msg: `resource "repo" does not exist: declare it under resources`}
	if *list[0] != want {
		t.Fatalf("got  %#v\nwant %#v", *list[0], want)
	}
}

func TestEmptyConfig(t *testing.T) {
	for _, in := range []string{"", "   \n", "# only a comment\n"} {
		if _, err := Load([]byte(in), Options{File: "e.yml"}); err == nil || !strings.Contains(err.Error(), "empty") {
			t.Errorf("%q: got %v", in, err)
		}
	}
}

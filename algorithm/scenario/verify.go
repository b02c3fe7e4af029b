package scenario

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/switchyard-ci/switchyard/algorithm"
)

// World is a scenario loaded somewhere the resolver can read it: its
// VersionsDB, and the ids and values its names became.
type World interface {
	algorithm.VersionsDB
	JobID(name string) int64
	ResourceID(name string) int64
	VersionValue(resourceID int64, v algorithm.VersionID) string
	// BuildID is the scenario's id of a build of the world.
	BuildID(b algorithm.BuildID) int64
}

// Inputs are the current job's inputs in the world's ids. A pin in the config
// (version: pinned) wins over a pin set through the API (the resource's).
func Inputs(s Scenario, db World) []algorithm.Input {
	inputs := make([]algorithm.Input, 0, len(s.JobInputs))
	resources := map[string]Resource{}
	for _, r := range s.Resources {
		resources[r.Name] = r
	}
	for _, in := range s.JobInputs {
		ai := algorithm.Input{Name: in.Name, ResourceID: db.ResourceID(in.Resource), Every: in.Version == "every"}
		for _, p := range in.Passed {
			ai.Passed = append(ai.Passed, db.JobID(p))
		}
		switch {
		case in.Version == "pinned" && in.PinnedVersion != nil:
			ai.Pinned = map[string]string{"ver": *in.PinnedVersion}
		case resources[in.Resource].PinnedVersion != nil:
			ai.Pinned = map[string]string{"ver": *resources[in.Resource].PinnedVersion}
		}
		inputs = append(inputs, ai)
	}
	return inputs
}

// Verify resolves the scenario's current job in the world as many times as it
// asks and says how the answer differs from what it expects ("" when it does not).
func Verify(ctx context.Context, s Scenario, db World) (string, error) {
	inputs := Inputs(s, db)
	iterations := max(s.Iterations, 1)
	var first string
	for i := range iterations {
		res, err := algorithm.Resolve(ctx, db, db.JobID(s.CurrentJob), inputs)
		if err != nil {
			return "", err
		}
		got := describe(db, inputs, res)
		if i == 0 {
			first = got
		} else if got != first {
			return fmt.Sprintf("iteration %d gave another answer:\n%s\nthan the first:\n%s", i, got, first), nil
		}
	}
	if s.Expected == nil {
		return "", nil
	}
	return compare(s, first), nil
}

func describe(db World, inputs []algorithm.Input, res algorithm.Result) string {
	var lines []string
	lines = append(lines, fmt.Sprintf("ok=%v has_next=%v", res.OK(), res.HasNext()))
	for _, in := range inputs {
		if e, ok := res.Errors[in.Name]; ok {
			lines = append(lines, fmt.Sprintf("error %s: %s", in.Name, e))
			continue
		}
		c := res.Candidates[in.Name]
		ids := make([]int, len(c.PassedBuilds))
		for i, b := range c.PassedBuilds {
			ids[i] = int(db.BuildID(b))
		}
		sort.Ints(ids)
		lines = append(lines, fmt.Sprintf("version %s: %s passed=%v first=%v", in.Name, db.VersionValue(in.ResourceID, c.Version), ids, c.FirstOccurrence))
	}
	return strings.Join(lines, "\n")
}

// compare checks the described answer against the scenario's expectation.
func compare(s Scenario, got string) string {
	e := s.Expected
	var want []string
	var problems []string
	has := func(line string) bool { return strings.Contains("\n"+got+"\n", "\n"+line) }
	if !strings.HasPrefix(got, fmt.Sprintf("ok=%v ", e.OK)) {
		problems = append(problems, fmt.Sprintf("ok: want %v", e.OK))
	}
	if e.HasNext != nil && !strings.Contains(strings.SplitN(got, "\n", 2)[0], fmt.Sprintf("has_next=%v", *e.HasNext)) {
		problems = append(problems, fmt.Sprintf("has_next: want %v", *e.HasNext))
	}
	if e.OK {
		for name, v := range e.Versions {
			want = append(want, fmt.Sprintf("version %s: %s ", name, v))
		}
	}
	for name, msg := range e.Errors {
		want = append(want, fmt.Sprintf("error %s: %s", name, msg))
	}
	errorLines := strings.Count(got, "\nerror ")
	if errorLines != len(e.Errors) {
		problems = append(problems, fmt.Sprintf("%d inputs failed, want %d", errorLines, len(e.Errors)))
	}
	for name, ids := range e.PassedBuildIDs {
		sorted := append([]int64(nil), ids...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
		want = append(want, fmt.Sprintf("version %s: ", name)+"*passed="+strings.ReplaceAll(fmt.Sprint(sorted), " ", " "))
	}
	for name, first := range e.FirstOccurrence {
		want = append(want, fmt.Sprintf("version %s: *first=%v", name, first))
	}
	for _, w := range want {
		if strings.Contains(w, "*") {
			prefix, suffix, _ := strings.Cut(w, "*")
			found := false
			for _, line := range strings.Split(got, "\n") {
				if strings.HasPrefix(line, prefix) && strings.Contains(line, suffix) {
					found = true
				}
			}
			if !found {
				problems = append(problems, "want "+prefix+suffix)
			}
			continue
		}
		if !has(w) {
			problems = append(problems, "want "+w)
		}
	}
	if len(problems) == 0 {
		return ""
	}
	return strings.Join(problems, "; ") + "\ngot:\n" + got
}

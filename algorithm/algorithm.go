package algorithm

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Input is one get of the job being scheduled.
type Input struct {
	Name       string
	ResourceID int64
	Passed     []int64 // job ids
	Every      bool
	Pinned     map[string]string // from the config or an API pin (the config wins)
}

// Candidate is the version chosen for an input.
type Candidate struct {
	Version         VersionID
	PassedBuilds    []BuildID // the upstream builds it passed through
	FirstOccurrence bool
	HasNext         bool // every: another version or build is waiting
}

// Result is the resolution of all inputs of a job.
type Result struct {
	Candidates map[string]Candidate // inputs that resolved
	Errors     map[string]string    // inputs that did not, with Concourse's reason
}

// OK tells whether every input resolved.
func (r Result) OK() bool { return len(r.Errors) == 0 }

// HasNext tells whether any input has another version waiting (the job should
// be scheduled again after this build).
func (r Result) HasNext() bool {
	for _, c := range r.Candidates {
		if c.HasNext {
			return true
		}
	}
	return false
}

// The reasons Concourse gives, verbatim.
const (
	NoSatisfiableBuilds    = "no satisfiable builds from passed jobs found for set of inputs"
	LatestVersionNotFound  = "latest version of resource not found"
	VersionNotFound        = "version of resource not found"
	pinnedVersionNotFound  = "pinned version %s not found"
	defaultBuildsPageLimit = 100
	firstBuildsPageLimit   = 10
)

// PinnedVersionNotFound is the reason for a pin that names no enabled version.
func PinnedVersionNotFound(v map[string]string) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ":" + v[k]
	}
	return fmt.Sprintf(pinnedVersionNotFound, strings.Join(parts, ","))
}

// Resolve chooses versions for the inputs of job jobID.
func Resolve(ctx context.Context, db VersionsDB, jobID int64, inputs []Input) (Result, error) {
	res := Result{Candidates: map[string]Candidate{}, Errors: map[string]string{}}
	var grouped []Input
	for _, in := range inputs {
		if len(in.Passed) > 0 {
			grouped = append(grouped, in)
			continue
		}
		c, reason, err := resolveIndividual(ctx, db, jobID, in)
		if err != nil {
			return Result{}, fmt.Errorf("resolve input %s: %w", in.Name, err)
		}
		if reason != "" {
			res.Errors[in.Name] = reason
		} else {
			res.Candidates[in.Name] = c
		}
	}
	for _, group := range groupByPassed(grouped) {
		g := &groupResolver{db: db, jobID: jobID, inputs: group}
		cands, reason, err := g.resolve(ctx)
		if err != nil {
			return Result{}, fmt.Errorf("resolve inputs with passed constraints: %w", err)
		}
		for i, in := range group {
			if reason != "" {
				res.Errors[in.Name] = reason
			} else {
				res.Candidates[in.Name] = cands[i]
			}
		}
	}
	for name, c := range res.Candidates {
		in := inputByName(inputs, name)
		used, err := db.UsedBefore(ctx, jobID, name, in.ResourceID, c.Version)
		if err != nil {
			return Result{}, err
		}
		c.FirstOccurrence = !used
		res.Candidates[name] = c
	}
	return res, nil
}

func inputByName(inputs []Input, name string) Input {
	for _, in := range inputs {
		if in.Name == name {
			return in
		}
	}
	return Input{}
}

func resolveIndividual(ctx context.Context, db VersionsDB, jobID int64, in Input) (Candidate, string, error) {
	switch {
	case in.Pinned != nil:
		v, found, err := db.EnabledVersion(ctx, in.ResourceID, in.Pinned)
		if err != nil || !found {
			return Candidate{}, PinnedVersionNotFound(in.Pinned), err
		}
		return Candidate{Version: v}, "", nil
	case in.Every:
		v, hasNext, found, err := db.NextEveryVersion(ctx, jobID, in.ResourceID)
		if err != nil || !found {
			return Candidate{}, VersionNotFound, err
		}
		return Candidate{Version: v, HasNext: hasNext}, "", nil
	}
	v, found, err := db.LatestVersion(ctx, in.ResourceID)
	if err != nil || !found {
		return Candidate{}, LatestVersionNotFound, err
	}
	return Candidate{Version: v}, "", nil
}

// groupByPassed puts inputs whose passed jobs overlap (transitively) together,
// keeping the inputs' order.
func groupByPassed(inputs []Input) [][]Input {
	parent := make([]int, len(inputs))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		if parent[i] != i {
			parent[i] = find(parent[i])
		}
		return parent[i]
	}
	byJob := map[int64]int{}
	for i, in := range inputs {
		for _, j := range in.Passed {
			if k, ok := byJob[j]; ok {
				parent[find(i)] = find(k)
			} else {
				byJob[j] = i
			}
		}
	}
	var groups [][]Input
	index := map[int]int{}
	for i, in := range inputs {
		root := find(i)
		g, ok := index[root]
		if !ok {
			g = len(groups)
			index[root] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], in)
	}
	return groups
}

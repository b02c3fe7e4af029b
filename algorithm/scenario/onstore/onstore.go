// Package onstore loads an algorithm scenario into the real store (the SQL the
// hub uses), so the resolver reads it through the store's VersionsDB.
package onstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/switchyard-ci/switchyard/algorithm"
	"github.com/switchyard-ci/switchyard/algorithm/scenario"
	"github.com/switchyard-ci/switchyard/hub/store"
)

// World is a scenario in the store.
type World struct {
	store.VersionsDB
	ctx       context.Context
	jobs      map[string]int64
	resources map[string]int64
	builds    map[algorithm.BuildID]int64 // store id -> scenario id
}

var _ scenario.World = (*World)(nil)

func (w *World) JobID(name string) int64           { return w.jobs[name] }
func (w *World) ResourceID(name string) int64      { return w.resources[name] }
func (w *World) BuildID(b algorithm.BuildID) int64 { return w.builds[b] }

func (w *World) VersionValue(_ int64, v algorithm.VersionID) string {
	val, err := w.VersionsDB.VersionValue(w.ctx, v)
	if err != nil || val == nil {
		return fmt.Sprintf("<unknown version %d>", v)
	}
	return scenario.VersionString(val)
}

func ver(s string) map[string]string { return scenario.VersionMap(s) }

// Load puts the scenario's world into a new pipeline of team main: jobs and
// resources in ascending scenario id (so their store ids keep that order),
// versions with their check orders, builds in ascending id (so build order is
// kept) with their inputs, outputs and output sets, and build pipes.
func Load(ctx context.Context, st *store.Store, s scenario.Scenario, pipelineName string) (*World, error) {
	team, err := st.SaveTeam(ctx, "main", nil)
	if err != nil {
		return nil, err
	}
	jobs := append([]scenario.Job(nil), s.Jobs...)
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].ID < jobs[j].ID })
	resources := append([]scenario.Resource(nil), s.Resources...)
	sort.Slice(resources, func(i, j int) bool { return resources[i].ID < resources[j].ID })
	params := store.SavePipelineParams{TeamID: team.ID, Name: pipelineName, Config: json.RawMessage(`{}`)}
	for _, j := range jobs {
		params.Jobs = append(params.Jobs, store.Part{Name: j.Name, Config: json.RawMessage(`{}`)})
	}
	for _, r := range resources {
		params.Resources = append(params.Resources, store.Part{Name: r.Name, Type: "scenario", Config: json.RawMessage(`{}`)})
	}
	saved, err := st.SavePipeline(ctx, params)
	if err != nil {
		return nil, err
	}
	w := &World{VersionsDB: st.VersionsDB(), ctx: ctx, jobs: map[string]int64{}, resources: map[string]int64{}, builds: map[algorithm.BuildID]int64{}}
	storedJobs, err := st.Jobs(ctx, saved.ID)
	if err != nil {
		return nil, err
	}
	for _, j := range storedJobs {
		w.jobs[j.Name] = j.ID
	}
	storedResources, err := st.Resources(ctx, saved.ID)
	if err != nil {
		return nil, err
	}
	for _, r := range storedResources {
		w.resources[r.Name] = r.ID
	}
	for _, r := range resources {
		if !r.HasScope {
			continue
		}
		for _, v := range r.Versions {
			if _, err := st.ImportVersion(ctx, w.resources[r.Name], ver(v.Version), v.CheckOrder, v.Disabled); err != nil {
				return nil, err
			}
		}
	}
	builds := append([]scenario.Build(nil), s.Builds...)
	sort.Slice(builds, func(i, j int) bool { return builds[i].ID < builds[j].ID })
	index := map[int64]int{} // scenario build id -> position in records
	records := make([]store.BuildRecord, len(builds))
	rerunOf := make([]int, len(builds))
	for i, b := range builds {
		index[b.ID] = i
		rerunOf[i] = -1
		if b.RerunOf != nil {
			orig, ok := index[*b.RerunOf]
			if !ok {
				return nil, fmt.Errorf("build %d reruns build %d, which does not come before it", b.ID, *b.RerunOf)
			}
			rerunOf[i] = orig
		}
		r := store.BuildRecord{JobID: w.jobs[b.Job], Status: b.Status}
		for _, in := range b.Inputs {
			r.Inputs = append(r.Inputs, store.RecordedInput{Name: in.Name, ResourceID: w.resources[in.Resource], Version: ver(in.Version)})
		}
		for _, out := range b.Outputs {
			r.Outputs = append(r.Outputs, store.RecordedOutput{ResourceID: w.resources[out.Resource], Version: ver(out.Version)})
		}
		records[i] = r
	}
	stored, err := st.RecordBuilds(ctx, records, rerunOf)
	if err != nil {
		return nil, err
	}
	ids := map[int64]int64{}
	for i, b := range builds {
		ids[b.ID] = stored[i]
		w.builds[algorithm.BuildID(stored[i])] = b.ID
	}
	for _, p := range s.BuildPipes {
		from, okFrom := ids[p.From]
		to, okTo := ids[p.To]
		if !okFrom || !okTo {
			return nil, fmt.Errorf("build pipe %d -> %d names an unknown build", p.From, p.To)
		}
		if err := st.AddBuildPipe(ctx, from, to); err != nil {
			return nil, err
		}
	}
	return w, st.Analyze(ctx)
}

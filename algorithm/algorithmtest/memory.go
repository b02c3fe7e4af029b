// Package algorithmtest holds an in-memory VersionsDB built from a scenario: the
// narrow seam on which the pure resolver is tested. The store's SQL
// implementation is tested against the same scenarios on PostgreSQL.
package algorithmtest

import (
	"context"
	"fmt"
	"sort"

	"github.com/switchyard-ci/switchyard/algorithm"
	"github.com/switchyard-ci/switchyard/algorithm/scenario"
)

type version struct {
	id         algorithm.VersionID
	value      string
	checkOrder int64
	disabled   bool
}

type build struct {
	cursor algorithm.BuildCursor
	job    int64
	status string
	inputs []input
	// set is the output set: outputs in listed order, then inputs.
	set []setEntry
}

type setEntry struct {
	resource int64
	version  algorithm.VersionID
}

type input struct {
	name     string
	resource int64
	version  algorithm.VersionID
}

// Memory is a VersionsDB over one scenario's world.
type Memory struct {
	versions map[int64][]version // resource -> versions
	builds   []build
	byID     map[algorithm.BuildID]*build
	byJob    map[int64][]*build // succeeded builds, oldest first in build order
	pipes    map[int64][]int64  // to build -> from builds
	jobs     map[string]int64
	res      map[string]int64
}

var _ algorithm.VersionsDB = (*Memory)(nil)

// New builds the world of a scenario. Versions a build names that the resource
// does not have get ids of their own that no enabled version has.
func New(s scenario.Scenario) (*Memory, error) {
	m := &Memory{versions: map[int64][]version{}, pipes: map[int64][]int64{}, jobs: map[string]int64{}, res: map[string]int64{}}
	for _, j := range s.Jobs {
		m.jobs[j.Name] = j.ID
	}
	byValue := map[int64]map[string]algorithm.VersionID{}
	for _, r := range s.Resources {
		m.res[r.Name] = r.ID
		byValue[r.ID] = map[string]algorithm.VersionID{}
		if !r.HasScope {
			continue
		}
		for _, v := range r.Versions {
			m.versions[r.ID] = append(m.versions[r.ID], version{algorithm.VersionID(v.ID), v.Version, v.CheckOrder, v.Disabled})
			byValue[r.ID][v.Version] = algorithm.VersionID(v.ID)
		}
	}
	unknown := algorithm.VersionID(-1)
	lookup := func(resource, value string) (int64, algorithm.VersionID, error) {
		rid, ok := m.res[resource]
		if !ok {
			return 0, 0, fmt.Errorf("unknown resource %q", resource)
		}
		if id, ok := byValue[rid][value]; ok {
			return rid, id, nil
		}
		byValue[rid][value] = unknown
		unknown--
		return rid, byValue[rid][value], nil
	}
	for _, b := range s.Builds {
		jid, ok := m.jobs[b.Job]
		if !ok {
			return nil, fmt.Errorf("build %d: unknown job %q", b.ID, b.Job)
		}
		order := b.ID
		if b.RerunOf != nil {
			order = *b.RerunOf
		}
		nb := build{cursor: algorithm.BuildCursor{ID: algorithm.BuildID(b.ID), Order: order}, job: jid, status: b.Status}
		for _, in := range b.Inputs {
			rid, vid, err := lookup(in.Resource, in.Version)
			if err != nil {
				return nil, err
			}
			nb.inputs = append(nb.inputs, input{in.Name, rid, vid})
		}
		if b.Status == "succeeded" {
			for _, out := range b.Outputs {
				rid, vid, err := lookup(out.Resource, out.Version)
				if err != nil {
					return nil, err
				}
				nb.set = append(nb.set, setEntry{rid, vid})
			}
			for _, in := range nb.inputs {
				nb.set = append(nb.set, setEntry{in.resource, in.version})
			}
		}
		m.builds = append(m.builds, nb)
	}
	for _, p := range s.BuildPipes {
		m.pipes[p.To] = append(m.pipes[p.To], p.From)
	}
	m.byID = map[algorithm.BuildID]*build{}
	m.byJob = map[int64][]*build{}
	for i := range m.builds {
		b := &m.builds[i]
		m.byID[b.cursor.ID] = b
		if b.status == "succeeded" {
			m.byJob[b.job] = append(m.byJob[b.job], b)
		}
	}
	for _, bs := range m.byJob {
		sort.Slice(bs, func(i, j int) bool { return before(bs[i].cursor, bs[j].cursor) })
	}
	return m, nil
}

// outputs is a build's output set as the resolver reads it: per resource,
// the first version in the set that the resource has and that is enabled.
func (m *Memory) outputs(b *build) map[int64]algorithm.VersionID {
	out := map[int64]algorithm.VersionID{}
	for _, e := range b.set {
		if _, seen := out[e.resource]; !seen && m.enabled(e.resource, e.version) {
			out[e.resource] = e.version
		}
	}
	return out
}

// holds tells whether a build's output set has the constrained versions.
func (m *Memory) holds(b *build, c algorithm.Constraints) bool {
	out := m.outputs(b)
	for res, v := range c {
		if out[res] != v {
			return false
		}
	}
	return true
}

// JobID and ResourceID map scenario names to ids.
func (m *Memory) JobID(name string) int64      { return m.jobs[name] }
func (m *Memory) ResourceID(name string) int64 { return m.res[name] }

// BuildID is the scenario's build id: the same here.
func (m *Memory) BuildID(b algorithm.BuildID) int64 { return int64(b) }

// VersionValue names a version id (for comparing with expectations).
func (m *Memory) VersionValue(resource int64, id algorithm.VersionID) string {
	for _, v := range m.versions[resource] {
		if v.id == id {
			return v.value
		}
	}
	return fmt.Sprintf("<unknown version %d>", id)
}

func newestFirst(vs []version) []version {
	out := append([]version(nil), vs...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].checkOrder != out[j].checkOrder {
			return out[i].checkOrder > out[j].checkOrder
		}
		return out[i].id > out[j].id
	})
	return out
}

func (m *Memory) LatestVersion(_ context.Context, resource int64) (algorithm.VersionID, bool, error) {
	for _, v := range newestFirst(m.versions[resource]) {
		if !v.disabled {
			return v.id, true, nil
		}
	}
	return 0, false, nil
}

func (m *Memory) NextEveryVersion(ctx context.Context, job, resource int64) (algorithm.VersionID, bool, bool, error) {
	used := int64(-1)
	for _, b := range m.builds {
		if b.job != job {
			continue
		}
		for _, in := range b.inputs {
			if in.resource != resource {
				continue
			}
			for _, v := range m.versions[resource] {
				if v.id == in.version && v.checkOrder > used {
					used = v.checkOrder
				}
			}
		}
	}
	if used < 0 {
		v, found, err := m.LatestVersion(ctx, resource)
		return v, false, found, err
	}
	vs := newestFirst(m.versions[resource])
	var after []version
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].checkOrder > used && !vs[i].disabled {
			after = append(after, vs[i])
		}
	}
	if len(after) > 0 {
		return after[0].id, len(after) > 1, true, nil
	}
	for _, v := range vs {
		if v.checkOrder <= used && !v.disabled {
			return v.id, false, true, nil
		}
	}
	return 0, false, false, nil
}

func (m *Memory) EnabledVersion(_ context.Context, resource int64, value map[string]string) (algorithm.VersionID, bool, error) {
	if len(value) != 1 {
		return 0, false, nil
	}
	for _, v := range m.versions[resource] {
		if v.value == value["ver"] && !v.disabled {
			return v.id, true, nil
		}
	}
	return 0, false, nil
}

func (m *Memory) enabled(resource int64, id algorithm.VersionID) bool {
	for _, v := range m.versions[resource] {
		if v.id == id {
			return !v.disabled
		}
	}
	return false
}

func before(a, b algorithm.BuildCursor) bool {
	if a.Order != b.Order {
		return a.Order < b.Order
	}
	return a.ID < b.ID
}

func (m *Memory) SucceededBuilds(_ context.Context, job int64, c algorithm.Constraints, from *algorithm.BuildCursor, limit int) ([]algorithm.BuildCursor, error) {
	bs := m.byJob[job]
	var out []algorithm.BuildCursor
	for i := len(bs) - 1; i >= 0 && len(out) < limit; i-- {
		b := bs[i]
		if (from == nil || before(b.cursor, *from)) && m.holds(b, c) {
			out = append(out, b.cursor)
		}
	}
	return out, nil
}

func (m *Memory) UnusedBuilds(_ context.Context, job int64, c algorithm.Constraints, lastUsed algorithm.BuildCursor, from *algorithm.BuildCursor, limit int) ([]algorithm.BuildCursor, error) {
	var out []algorithm.BuildCursor
	for _, b := range m.byJob[job] {
		if len(out) == limit {
			break
		}
		if b.cursor.Order > lastUsed.Order && (from == nil || before(*from, b.cursor)) && m.holds(b, c) {
			out = append(out, b.cursor)
		}
	}
	return out, nil
}

func (m *Memory) Outputs(_ context.Context, id algorithm.BuildID) (map[int64]algorithm.VersionID, error) {
	if b, ok := m.byID[id]; ok && b.status == "succeeded" {
		return m.outputs(b), nil
	}
	return nil, nil
}

func (m *Memory) LastUsedBuilds(_ context.Context, job, resource int64) (map[int64]algorithm.BuildCursor, error) {
	var latest *build
	newest := int64(-1)
	for i := range m.builds {
		b := &m.builds[i]
		if b.job != job {
			continue
		}
		for _, in := range b.inputs {
			order, ok := m.checkOrder(in.resource, in.version)
			if in.resource != resource || !ok {
				continue
			}
			if latest == nil || order > newest || (order == newest && before(latest.cursor, b.cursor)) {
				latest, newest = b, order
			}
		}
	}
	out := map[int64]algorithm.BuildCursor{}
	if latest == nil {
		return out, nil
	}
	for _, from := range m.pipes[int64(latest.cursor.ID)] {
		for _, b := range m.builds {
			if int64(b.cursor.ID) == from {
				if cur, ok := out[b.job]; !ok || before(cur, b.cursor) {
					out[b.job] = b.cursor
				}
			}
		}
	}
	return out, nil
}

// checkOrder is a version's check order, if the resource has the version.
func (m *Memory) checkOrder(resource int64, id algorithm.VersionID) (int64, bool) {
	for _, v := range m.versions[resource] {
		if v.id == id {
			return v.checkOrder, true
		}
	}
	return 0, false
}

func (m *Memory) UsedBefore(_ context.Context, job int64, name string, resource int64, v algorithm.VersionID) (bool, error) {
	for _, b := range m.builds {
		if b.job != job {
			continue
		}
		for _, in := range b.inputs {
			if in.name == name && in.resource == resource && in.version == v {
				return true, nil
			}
		}
	}
	return false, nil
}

package algorithm

import (
	"context"
	"slices"
	"strconv"
)

// groupResolver resolves inputs whose passed jobs overlap. It searches depth
// first over the passed jobs in ascending id, trying each job's succeeded builds
// in order of preference, and keeps a build only if its output set agrees with
// the versions already chosen for every input that names the job.
type groupResolver struct {
	db     VersionsDB
	jobID  int64
	inputs []Input

	jobs     []int64
	pins     []VersionID // 0: not pinned
	lastUsed map[int64]BuildCursor

	cands   []VersionID
	passed  [][]BuildID
	hasNext []bool

	// doomed remembers search states (job index and every input's version)
	// from which no choice of builds works, so the search never repeats them.
	doomed map[string]bool

	// What one resolution has read already: the search meets the same builds
	// and versions again from different branches.
	outputs map[BuildID]map[int64]VersionID
	newest  map[int64]*BuildCursor // a job's newest succeeded build (nil: none)
}

// newerThan tells whether the job has a succeeded build after b, whatever
// its outputs: Concourse's has_next counts every build the job has not used
// yet, not only those that fit the versions chosen so far.
func (g *groupResolver) newerThan(ctx context.Context, job int64, b BuildCursor) (bool, error) {
	newest, ok := g.newest[job]
	if !ok {
		page, err := g.db.SucceededBuilds(ctx, job, nil, nil, 1)
		if err != nil {
			return false, err
		}
		if len(page) > 0 {
			newest = &page[0]
		}
		g.newest[job] = newest
	}
	return newest != nil && (newest.Order > b.Order || (newest.Order == b.Order && newest.ID > b.ID)), nil
}

func (g *groupResolver) outputsOf(ctx context.Context, b BuildCursor) (map[int64]VersionID, error) {
	if out, ok := g.outputs[b.ID]; ok {
		return out, nil
	}
	if b.Outputs != nil {
		g.outputs[b.ID] = b.Outputs
		return b.Outputs, nil
	}
	out, err := g.db.Outputs(ctx, b.ID)
	if err == nil {
		g.outputs[b.ID] = out
	}
	return out, err
}

// state names the search state at job index k.
func (g *groupResolver) state(k int) string {
	b := make([]byte, 0, 8*(len(g.cands)+1))
	b = strconv.AppendInt(b, int64(k), 10)
	for _, c := range g.cands {
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(c), 10)
	}
	return string(b)
}

func (g *groupResolver) resolve(ctx context.Context) ([]Candidate, string, error) {
	// Jobs are visited input by input, each input's passed jobs in ascending
	// id, as Concourse does: the first input's jobs decide first, whatever
	// the ids of the other inputs' jobs.
	seen := map[int64]bool{}
	var every *Input
	g.pins = make([]VersionID, len(g.inputs))
	for i, in := range g.inputs {
		passed := append([]int64(nil), in.Passed...)
		slices.Sort(passed)
		for _, j := range passed {
			if !seen[j] {
				seen[j] = true
				g.jobs = append(g.jobs, j)
			}
		}
		if in.Every && every == nil {
			every = &g.inputs[i]
		}
		if in.Pinned != nil {
			v, found, err := g.db.EnabledVersion(ctx, in.ResourceID, in.Pinned)
			if err != nil {
				return nil, "", err
			}
			if !found {
				return nil, PinnedVersionNotFound(in.Pinned), nil
			}
			g.pins[i] = v
		}
	}
	if every != nil {
		// Continue from the builds that fed the job's run of the newest
		// version of the first input that takes every version.
		var err error
		if g.lastUsed, err = g.db.LastUsedBuilds(ctx, g.jobID, every.ResourceID); err != nil {
			return nil, "", err
		}
	}
	g.cands = make([]VersionID, len(g.inputs))
	g.passed = make([][]BuildID, len(g.inputs))
	g.hasNext = make([]bool, len(g.inputs))
	g.doomed = map[string]bool{}
	g.outputs = map[BuildID]map[int64]VersionID{}
	g.newest = map[int64]*BuildCursor{}
	ok, err := g.search(ctx, 0)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, NoSatisfiableBuilds, nil
	}
	out := make([]Candidate, len(g.inputs))
	for i := range g.inputs {
		out[i] = Candidate{Version: g.cands[i], PassedBuilds: g.passed[i], HasNext: g.hasNext[i]}
	}
	return out, "", nil
}

// search chooses a build of jobs[k] and of every job after it.
func (g *groupResolver) search(ctx context.Context, k int) (bool, error) {
	if k == len(g.jobs) {
		return true, nil
	}
	here := g.state(k)
	if g.doomed[here] {
		return false, nil
	}
	job := g.jobs[k]
	var users []int // the inputs that name the job
	every := false
	for i, in := range g.inputs {
		for _, j := range in.Passed {
			if j == job {
				users = append(users, i)
				every = every || in.Every
			}
		}
	}
	// Only builds whose output set holds the versions already chosen (or
	// pinned) for the job's inputs can fit: ask for just those.
	constraints := Constraints{}
	for _, i := range users {
		want := g.cands[i]
		if want == 0 {
			want = g.pins[i]
		}
		if want == 0 {
			continue
		}
		if have, ok := constraints[g.inputs[i].ResourceID]; ok && have != want {
			g.doomed[here] = true
			return false, nil // two inputs of one resource need different versions
		}
		constraints[g.inputs[i].ResourceID] = want
	}
	it := g.builds(job, every, constraints)
	tried := map[string]bool{} // states after this job already searched from here
	for {
		b, unused, unusedLeft, ok, err := it.next(ctx)
		if err != nil {
			return false, err
		}
		if !ok {
			g.doomed[here] = true
			return false, nil
		}
		outputs, err := g.outputsOf(ctx, b)
		if err != nil {
			return false, err
		}
		if unused && !unusedLeft && len(constraints) > 0 {
			if unusedLeft, err = g.newerThan(ctx, job, b); err != nil {
				return false, err
			}
		}
		saved := g.save(users)
		if g.take(users, outputs, b.ID, unusedLeft) {
			// Another build giving the same versions leads to the same search;
			// the first one found is the preferred one.
			next := g.state(k + 1)
			if !tried[next] {
				tried[next] = true
				if done, err := g.search(ctx, k+1); err != nil || done {
					return done, err
				}
			}
		}
		g.restore(users, saved)
	}
}

type saved struct {
	cand    VersionID
	passed  int
	hasNext bool
}

func (g *groupResolver) save(users []int) []saved {
	s := make([]saved, len(users))
	for n, i := range users {
		s[n] = saved{g.cands[i], len(g.passed[i]), g.hasNext[i]}
	}
	return s
}

func (g *groupResolver) restore(users []int, s []saved) {
	for n, i := range users {
		g.cands[i], g.passed[i], g.hasNext[i] = s[n].cand, g.passed[i][:s[n].passed], s[n].hasNext
	}
}

// take applies a build's output set to the inputs that name its job, if it
// agrees with what they already have: the set must have a version of the
// resource (the set holds only versions that exist and are enabled), and it
// must match the pin and the version chosen through other jobs.
func (g *groupResolver) take(users []int, outputs map[int64]VersionID, b BuildID, unusedLeft bool) bool {
	for _, i := range users {
		in := g.inputs[i]
		v, ok := outputs[in.ResourceID]
		if !ok || (g.cands[i] != 0 && g.cands[i] != v) || (g.pins[i] != 0 && g.pins[i] != v) {
			return false
		}
		g.cands[i] = v
		g.passed[i] = append(g.passed[i], b)
		if in.Every && unusedLeft {
			g.hasNext[i] = true
		}
	}
	return true
}

// buildIter yields a passed job's builds in order of preference. For inputs
// with every whose job fed an earlier build of ours, that is the builds after
// the one it used, oldest first, then that build and older ones, newest first;
// otherwise newest first.
type buildIter struct {
	db     VersionsDB
	job    int64
	c      Constraints
	cursor *BuildCursor // the build used last, for every

	unused     []BuildCursor
	unusedDone bool
	pos        int

	older      []BuildCursor
	olderFrom  *BuildCursor
	olderPages int
	olderDone  bool
	olderPos   int
	gaveLast   bool
}

func (g *groupResolver) builds(job int64, every bool, c Constraints) *buildIter {
	it := &buildIter{db: g.db, job: job, c: c}
	if every {
		if c, ok := g.lastUsed[job]; ok {
			it.cursor = &c
		}
	}
	if it.cursor == nil {
		it.unusedDone = true
	}
	return it
}

// next returns the next build; unused says it is one the job has not used,
// and unusedLeft that another unused build that fits follows it.
func (it *buildIter) next(ctx context.Context) (b BuildCursor, unused, unusedLeft, ok bool, err error) {
	if !it.unusedDone {
		if it.unused == nil {
			var from *BuildCursor
			for {
				page, err := it.db.UnusedBuilds(ctx, it.job, it.c, *it.cursor, from, defaultBuildsPageLimit)
				if err != nil {
					return BuildCursor{}, false, false, false, err
				}
				it.unused = append(it.unused, page...)
				if len(page) < defaultBuildsPageLimit {
					break
				}
				from = &page[len(page)-1]
			}
			if it.unused == nil {
				it.unused = []BuildCursor{}
			}
		}
		if it.pos < len(it.unused) {
			b = it.unused[it.pos]
			it.pos++
			return b, true, it.pos < len(it.unused), true, nil
		}
		it.unusedDone = true
		if it.cursor != nil && !it.gaveLast {
			// The build used last comes first among the older ones.
			it.gaveLast = true
			it.olderFrom = it.cursor
			return *it.cursor, false, false, true, nil
		}
	}
	for {
		if it.olderPos < len(it.older) {
			b = it.older[it.olderPos]
			it.olderPos++
			return b, false, false, true, nil
		}
		if it.olderDone {
			return BuildCursor{}, false, false, false, nil
		}
		// The newest builds are the likeliest to fit: ask for a few first.
		limit := defaultBuildsPageLimit
		if it.olderFrom == nil || it.olderPages == 0 {
			limit = firstBuildsPageLimit
		}
		it.olderPages++
		page, err := it.db.SucceededBuilds(ctx, it.job, it.c, it.olderFrom, limit)
		if err != nil {
			return BuildCursor{}, false, false, false, err
		}
		it.older, it.olderPos = page, 0
		if len(page) < limit {
			it.olderDone = true
		}
		if len(page) > 0 {
			last := page[len(page)-1]
			it.olderFrom = &last
		}
	}
}

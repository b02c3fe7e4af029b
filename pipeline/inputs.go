package pipeline

// JobInput is one get of a job as the scheduler sees it.
type JobInput struct {
	Name     string
	Resource string
	Passed   []string
	Trigger  bool
	Every    bool
	Version  map[string]string // pinned in the get step
}

// Inputs lists the job's gets in plan order, hooks included: each is an input
// of the job, as in Concourse.
func (j *Job) Inputs() []JobInput {
	var out []JobInput
	forEachStep(j, func(s *Step) {
		if g := s.Get; g != nil {
			out = append(out, JobInput{
				Name: g.Name, Resource: g.ResourceName(), Passed: g.Passed,
				Trigger: g.Trigger, Every: g.Version.Every, Version: g.Version.Pinned,
			})
		}
	})
	return out
}

// Outputs lists the resources the job puts, in plan order, hooks
// included, each once.
func (j *Job) Outputs() []string {
	var out []string
	seen := map[string]bool{}
	forEachStep(j, func(s *Step) {
		if p := s.Put; p != nil && !seen[p.ResourceName()] {
			seen[p.ResourceName()] = true
			out = append(out, p.ResourceName())
		}
	})
	return out
}

// SetVersions gives every get of the plan that fetches a job input (no fixed
// version, not following a put) the version chosen for it, by get name.
func (p *Plan) SetVersions(versions map[string]map[string]string) {
	if p.Get != nil && p.Get.Version == nil && p.Get.VersionFrom == "" {
		if v, ok := versions[p.Get.Name]; ok {
			p.Get.Version = v
		}
	}
	for _, c := range children(p) {
		c.SetVersions(versions)
	}
}

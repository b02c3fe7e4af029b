package pipeline

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"
)

// validator checks a decoded config: names, cross-references and the artifact
// flow of every plan. It adds to the same report as decoding.
type validator struct {
	*report
	cfg       *Config
	resources map[string]*Resource
	jobs      map[string]*Job
	// touches[job][resource]: the job gets or puts the resource.
	touches map[string]map[string]bool
	used    map[string]bool // resources some step gets or puts
}

func validate(r *report, cfg *Config, refs []VarRef) {
	v := &validator{
		report:    r,
		cfg:       cfg,
		resources: map[string]*Resource{},
		jobs:      map[string]*Job{},
		touches:   map[string]map[string]bool{},
		used:      map[string]bool{},
	}
	v.varSources(refs)
	v.resourceTypes()
	v.resourcesDeclared()
	for i := range cfg.Jobs {
		j := &cfg.Jobs[i]
		if j.Name == "" {
			continue
		}
		if _, dup := v.jobs[j.Name]; dup {
			v.errorf(j.Lines["name"], fmt.Sprintf("job %q", j.Name), "job name appears more than once: job names must be unique")
			continue
		}
		v.jobs[j.Name] = j
		v.touches[j.Name] = map[string]bool{}
		forEachStep(j, func(s *Step) {
			if s.Get != nil {
				v.touches[j.Name][s.Get.ResourceName()] = true
			}
			if s.Put != nil {
				v.touches[j.Name][s.Put.ResourceName()] = true
			}
		})
	}
	for i := range cfg.Jobs {
		v.job(i, &cfg.Jobs[i])
	}
	v.resourcesUsed()
	v.groups()
}

// identifierPattern is Concourse's rule for names; breaking it is only a warning.
var identifierPattern = regexp.MustCompile(`^[\p{Ll}\p{Lt}\p{Lm}\p{Lo}\d][\p{Ll}\p{Lt}\p{Lm}\p{Lo}\d\-_.]*$`)

func (v *validator) identifier(name string, line int, where string) {
	if name == "" {
		return
	}
	if err := CheckName(name); err != nil {
		v.errorf(line, where, "%v", err)
		return
	}
	if strings.Contains(name, "((") || identifierPattern.MatchString(name) {
		return
	}
	reason := "must start with a lowercase letter or a number"
	if first := []rune(name)[0]; identifierPattern.MatchString(string(first)) {
		for _, c := range name {
			if !identifierPattern.MatchString("a" + string(c)) {
				reason = fmt.Sprintf("illegal character '%c'", c)
				break
			}
		}
	}
	v.warnf("invalid_identifier", line, where, "'%s' is not a valid identifier: %s", name, reason)
}

// duration checks a Go duration field, leaving ((vars)) for run time.
func (v *validator) duration(value string, line int, where, field string, allowNever bool) {
	if value == "" || strings.Contains(value, "((") || (allowNever && value == "never") {
		return
	}
	d, err := time.ParseDuration(value)
	if err != nil || d <= 0 {
		hint := "a positive duration such as 30s, 5m or 1h"
		if allowNever {
			hint += ", or never"
		}
		v.errorf(line, where, "%s %q is not %s", field, value, hint)
	}
}

func (v *validator) varSources(refs []VarRef) {
	names := map[string]bool{}
	for i, s := range v.cfg.VarSources {
		where := fmt.Sprintf("var_sources[%d]", i)
		if s.Name == "" {
			v.errorf(s.Line, where, "var source has no name")
			continue
		}
		where = fmt.Sprintf("var source %q", s.Name)
		if names[s.Name] {
			v.errorf(s.Line, where, "var source name appears more than once")
		}
		names[s.Name] = true
		switch s.Type {
		case "":
			v.errorf(s.Line, where, "var source has no type")
		case "dummy", "kubernetes", "idtoken":
		case "vault", "ssm", "secretsmanager", "credhub", "conjur":
			v.warnf("unsupported_var_source", s.Line, where, "credential manager type %s is not supported by Switchyard yet: a step that reads it errors; use kubernetes, dummy or idtoken", s.Type)
		default:
			v.errorf(s.Line, where, "unknown credential manager type: %s (Switchyard has dummy, kubernetes and idtoken)", s.Type)
		}
		v.identifier(s.Name, s.Line, where)
	}
	for _, ref := range refs {
		if ref.Source != "" && ref.Source != "." && !names[ref.Source] { // "." is load_var and across: local to the build
			v.warnf("unknown_var_source", ref.Line, "", "((%s:%s)) names var source %q, which var_sources does not declare; it will not resolve unless the hub has such a source",
				ref.Source, strings.Join(ref.Path, "."), ref.Source)
		}
	}
}

func (v *validator) resourceTypes() {
	names := map[string]bool{}
	for i, t := range v.cfg.ResourceTypes {
		where := fmt.Sprintf("resource_types[%d]", i)
		if t.Name == "" {
			v.errorf(t.Line, where, "resource type has no name")
		} else {
			where = fmt.Sprintf("resource type %q", t.Name)
			if names[t.Name] {
				v.errorf(t.Lines["name"], where, "resource type name appears more than once")
			}
			names[t.Name] = true
			v.identifier(t.Name, t.Lines["name"], where)
		}
		if t.Type == "" {
			v.errorf(t.Line, where, "resource type has no type")
		}
		v.duration(t.CheckEvery, t.Lines["check_every"], where, "check_every", true)
	}
}

func (v *validator) resourcesDeclared() {
	for i := range v.cfg.Resources {
		r := &v.cfg.Resources[i]
		where := fmt.Sprintf("resources[%d]", i)
		if r.Name == "" {
			v.errorf(r.Line, where, "resource has no name")
		} else {
			where = fmt.Sprintf("resource %q", r.Name)
			if _, dup := v.resources[r.Name]; dup {
				v.errorf(r.Lines["name"], where, "resource name appears more than once: resource names must be unique")
			} else {
				v.resources[r.Name] = r
			}
			v.identifier(r.Name, r.Lines["name"], where)
		}
		if r.Type == "" {
			v.errorf(r.Line, where, "resource has no type")
		}
		v.duration(r.CheckEvery, r.Lines["check_every"], where, "check_every", true)
		v.duration(r.CheckTimeout, r.Lines["check_timeout"], where, "check_timeout", false)
	}
}

func (v *validator) resourcesUsed() {
	for _, r := range v.cfg.Resources {
		if r.Name != "" && !v.used[r.Name] {
			v.errorf(r.Lines["name"], fmt.Sprintf("resource %q", r.Name), "resource is not used by any job: use it in a get or put step, or remove it")
		}
	}
}

func (v *validator) groups() {
	if len(v.cfg.Groups) == 0 {
		return
	}
	names := map[string]bool{}
	grouped := map[string]bool{}
	for i, g := range v.cfg.Groups {
		where := fmt.Sprintf("groups[%d]", i)
		if g.Name == "" {
			v.errorf(g.Line, where, "group has no name")
		} else {
			where = fmt.Sprintf("group %q", g.Name)
			if names[g.Name] {
				v.errorf(g.Line, where, "group name appears more than once")
			}
			names[g.Name] = true
		}
		for _, pattern := range g.Jobs {
			matched := false
			for name := range v.jobs {
				if ok, err := path.Match(pattern, name); err != nil {
					v.errorf(g.Line, where, "job pattern %q is not a valid glob: %v", pattern, err)
					break
				} else if ok {
					matched, grouped[name] = true, true
				}
			}
			if !matched {
				v.errorf(g.Line, where, "job %q does not exist", pattern)
			}
		}
		for _, r := range g.Resources {
			if _, ok := v.resources[r]; !ok {
				v.errorf(g.Line, where, "resource %q does not exist", r)
			}
		}
	}
	for _, j := range v.cfg.Jobs {
		if j.Name != "" && !grouped[j.Name] {
			v.errorf(j.Lines["name"], fmt.Sprintf("job %q", j.Name), "job belongs to no group: add it to a group, or remove the groups")
		}
	}
}

func (v *validator) job(i int, j *Job) {
	where := fmt.Sprintf("jobs[%d]", i)
	if j.Name == "" {
		v.errorf(j.Line, where, "job has no name")
	} else {
		where = fmt.Sprintf("job %q", j.Name)
		v.identifier(j.Name, j.Lines["name"], where)
	}
	if j.MaxInFlight < 0 {
		v.errorf(j.Lines["max_in_flight"], where, "max_in_flight must not be negative")
	}
	if j.BuildLogsToRetain < 0 {
		v.errorf(j.Lines["build_logs_to_retain"], where, "build_logs_to_retain must not be negative")
	}
	if _, ok := j.Lines["build_logs_to_retain"]; ok {
		v.warnf("deprecation", j.Lines["build_logs_to_retain"], where, "build_logs_to_retain is deprecated: use build_log_retention.builds")
	}
	if r := j.BuildLogRetention; r != nil && (r.Builds < 0 || r.Days < 0 || r.MinimumSucceededBuilds < 0) {
		v.errorf(r.Line, where+": build_log_retention", "builds, days and minimum_succeeded_builds must not be negative")
	}
	pv := planValidator{validator: v, job: j, gets: map[string]int{}}
	scope := pv.steps(j.Plan, artifacts{}, where)
	for _, h := range j.Hooks.list() {
		pv.step(h.step, scope, where+": "+h.key)
	}
}

// forEachStep calls fn for every step of a job: plan, nested steps and hooks.
func forEachStep(j *Job, fn func(*Step)) {
	var walk func(s *Step)
	walk = func(s *Step) {
		if s == nil {
			return
		}
		fn(s)
		for i := range s.Do {
			walk(&s.Do[i])
		}
		if s.InParallel != nil {
			for i := range s.InParallel.Steps {
				walk(&s.InParallel.Steps[i])
			}
		}
		walk(s.Try)
		for _, h := range s.Hooks.list() {
			walk(h.step)
		}
	}
	for i := range j.Plan {
		walk(&j.Plan[i])
	}
	for _, h := range j.Hooks.list() {
		walk(h.step)
	}
}

type hook struct {
	key  string
	step *Step
}

// list returns the hooks that are set, in the order Concourse nests them (inner
// to outer).
func (h *Hooks) list() []hook {
	var out []hook
	for _, x := range []hook{{"on_success", h.OnSuccess}, {"on_failure", h.OnFailure}, {"on_abort", h.OnAbort}, {"on_error", h.OnError}, {"ensure", h.Ensure}} {
		if x.step != nil {
			out = append(out, x)
		}
	}
	return out
}

package docs

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/switchyard-ci/switchyard/pipeline"
)

// schemaSections are the objects of a pipeline config, each with the Go type
// the loader decodes it into: the table lists every key those types read.
var schemaSections = []struct {
	where string
	typ   reflect.Type
}{
	{"pipeline", reflect.TypeFor[pipeline.Config]()},
	{"groups[]", reflect.TypeFor[pipeline.Group]()},
	{"var_sources[]", reflect.TypeFor[pipeline.VarSource]()},
	{"display", reflect.TypeFor[pipeline.Display]()},
	{"resources[]", reflect.TypeFor[pipeline.Resource]()},
	{"resource_types[]", reflect.TypeFor[pipeline.ResourceType]()},
	{"jobs[]", reflect.TypeFor[pipeline.Job]()},
	{"build_log_retention", reflect.TypeFor[pipeline.BuildLogRetention]()},
	{"get step", reflect.TypeFor[pipeline.GetStep]()},
	{"put step", reflect.TypeFor[pipeline.PutStep]()},
	{"task step", reflect.TypeFor[pipeline.TaskStep]()},
	{"task config", reflect.TypeFor[pipeline.TaskConfig]()},
	{"image_resource", reflect.TypeFor[pipeline.ImageResource]()},
	{"run", reflect.TypeFor[pipeline.RunConfig]()},
	{"container_limits", reflect.TypeFor[pipeline.ContainerLimits]()},
	{"set_pipeline step", reflect.TypeFor[pipeline.SetPipelineStep]()},
	{"load_var step", reflect.TypeFor[pipeline.LoadVarStep]()},
	{"in_parallel step", reflect.TypeFor[pipeline.InParallelStep]()},
	{"any step: modifiers and hooks", reflect.TypeFor[pipeline.Step]()},
	{"across[]", reflect.TypeFor[pipeline.AcrossVar]()},
}

// keyNotes say how a key differs from Concourse, or that it is read and not
// acted on yet; a key without a note is supported as Concourse has it.
var keyNotes = map[string]string{
	"pipeline.prototypes":                     "not yet: accepted and ignored (Concourse's prototypes are experimental)",
	"pipeline.display":                        "not yet: accepted; the web UI shows no background image",
	"resources[].old_name":                    "not yet: accepted and ignored; a renamed resource starts a new version history",
	"resources[].icon":                        "not yet: accepted; the web UI shows no icons",
	"resources[].check_timeout":               "not yet: checked as a duration, not applied to checks",
	"resources[].expose_build_created_by":     "not yet: accepted; `BUILD_CREATED_BY` is not given to the resource",
	"resource_types[].check_every":            "differs: types are not checked periodically on their own; a build checks a type it uses when its version is older than a minute",
	"resource_types[].unique_version_history": "not yet: accepted and ignored",
	"jobs[].old_name":                         "not yet: accepted and ignored; a renamed job starts a new build history",
	"jobs[].interruptible":                    "not yet: accepted and ignored; a landing spoke waits for every step it runs",
	"task step.hermetic":                      "not yet: accepted; a step's network is what its spoke's NetworkPolicy allows",
	"task step.privileged":                    "differs: allowed only where the spoke's runtime allows it, and subject to admission policies (`use_privileged`)",
	"task config.rootfs_uri":                  "differs: only `docker:///IMAGE`, on kube spokes",
	"any step: modifiers and hooks.tags":      "differs: allowed on every step, and applies to the steps inside it",
	"any step: modifiers and hooks.across":    "differs: the combinations run as nested `in_parallel` steps (the public plan shows Concourse's `across` node)",
	"get step.get":                            "differs: a get's name appears once per job (it names the build input)",
	"set_pipeline step.set_pipeline":          "differs: the diff in its log is a line diff of the configs as YAML",
	"var_sources[].type":                      "differs: `dummy`, `kubernetes` and `idtoken`; `vault`, `ssm`, `secretsmanager`, `credhub` and `conjur` are refused when a step reads them",
	"task config.platform":                    "differs: `linux` runs; a step is placed on a spoke of that platform",
	"container_limits.cpu":                    "differs: also counts against the spoke's capacity and the team's fleet quota",
	"container_limits.memory":                 "differs: also counts against the spoke's capacity and the team's fleet quota",
}

// schemaKeys are the keys a struct type decodes, inline fields followed.
func schemaKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case opts == "inline":
			keys = append(keys, schemaKeys(f.Type)...)
		case name != "" && name != "-":
			keys = append(keys, name)
		}
	}
	return keys
}

// pipelineKeysTable is the compatibility page's table of every key of a
// pipeline config the loader reads, with what Switchyard does with it.
func pipelineKeysTable(t *testing.T) string {
	t.Helper()
	used := map[string]bool{}
	var b strings.Builder
	b.WriteString("| where | key | state |\n|---|---|---|\n")
	for _, s := range schemaSections {
		for _, k := range schemaKeys(s.typ) {
			id := s.where + "." + k
			state := "supported"
			if n, ok := keyNotes[id]; ok {
				state, used[id] = n, true
			}
			fmt.Fprintf(&b, "| %s | `%s` | %s |\n", s.where, k, cell(state))
		}
	}
	for id := range keyNotes {
		if !used[id] {
			t.Errorf("keyNotes has %s, which the pipeline schema does not read", id)
		}
	}
	return b.String()
}

// The compatibility page's table of pipeline keys is the schema's own: a
// key added to the loader appears there, and a note for a key the loader
// no longer reads fails.
func TestGeneratedPipelineKeys(t *testing.T) {
	generated(t, "docs/compatibility.md", "pipeline-keys", pipelineKeysTable(t))
}

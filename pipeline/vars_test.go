package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestInterpolation(t *testing.T) {
	vars := Vars{}
	for _, kv := range []string{"name=world", "nested.deep.key=v", `"dotted.name"=q`} {
		if err := vars.SetString(kv); err != nil {
			t.Fatal(err)
		}
	}
	for _, kv := range []string{"count=3", "list=[a, b]", "flag=true", "obj={x: 1}"} {
		if err := vars.SetYAML(kv); err != nil {
			t.Fatal(err)
		}
	}
	src := `
resources:
- name: r
  type: mock
  source:
    greeting: hello ((name))!
    count: ((count))
    list: ((list))
    flag: ((flag))
    obj: ((obj))
    field: ((obj.x))
    deep: ((nested.deep.key))
    quoted: ((dotted.name))
    quoted2: (("dotted.name"))
    mixed: ((count))-((flag))
    unresolved: ((missing))
    sourced: ((vault:secret.key))
    local: ((.:loaded))
jobs:
- name: j
  plan: [{get: r}]
`
	p, err := Load([]byte(src), Options{Vars: vars})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"greeting": "hello world!", "count": int64(3), "list": []any{"a", "b"}, "flag": true,
		"obj": map[string]any{"x": int64(1)}, "field": int64(1), "deep": "v",
		"quoted": "((dotted.name))", "quoted2": "q", "mixed": "3-true",
		"unresolved": "((missing))", "sourced": "((vault:secret.key))", "local": "((.:loaded))",
	}
	if diff := cmp.Diff(want, p.Config.Resources[0].Source); diff != "" {
		t.Errorf("source (-want +got):\n%s", diff)
	}
	var stored map[string]any
	if err := json.Unmarshal(p.JSON, &stored); err != nil {
		t.Fatal(err)
	}
	if got := stored["resources"].([]any)[0].(map[string]any)["source"].(map[string]any)["greeting"]; got != "hello world!" {
		t.Errorf("stored JSON not interpolated: %v", got)
	}
	var left []string
	for _, r := range p.Vars {
		left = append(left, r.Source+":"+r.Path[0])
	}
	if diff := cmp.Diff([]string{":dotted", ":missing", "vault:secret", ".:loaded"}, left); diff != "" {
		t.Errorf("vars left (-want +got):\n%s", diff)
	}
}

func TestVarsFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yml")
	os.WriteFile(good, []byte("a: 1\nb: {c: d}\n"), 0o644)
	vars := Vars{}
	if err := vars.LoadFile(good); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Vars{"a": int64(1), "b": map[string]any{"c": "d"}}, vars); diff != "" {
		t.Error(diff)
	}
	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(bad, []byte("- a list\n"), 0o644)
	if err := vars.LoadFile(bad); err == nil {
		t.Error("a list was accepted as a vars file")
	}
	if err := vars.LoadFile(filepath.Join(dir, "missing.yml")); err == nil {
		t.Error("a missing vars file was accepted")
	}
	if err := vars.SetYAML("x=[unclosed"); err == nil {
		t.Error("bad YAML var accepted")
	}
}

func TestYAML11Booleans(t *testing.T) {
	p, err := Load([]byte(`
resources:
- {name: r, type: git, public: yes, source: {a: on, b: "yes", c: no}}
jobs:
- {name: j, public: Off, plan: [{get: r, trigger: Y}]}
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, j := p.Config.Resources[0], p.Config.Jobs[0]
	if !r.Public || j.Public || !j.Plan[0].Get.Trigger {
		t.Errorf("booleans: resource public %v, job public %v, trigger %v", r.Public, j.Public, j.Plan[0].Get.Trigger)
	}
	if diff := cmp.Diff(map[string]any{"a": true, "b": "yes", "c": false}, r.Source); diff != "" {
		t.Errorf("source: %s", diff)
	}
}

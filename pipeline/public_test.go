package pipeline

import (
	"encoding/json"
	"strings"
	"testing"
)

// The public plan keeps the tree and the ids, reduces each step's body to
// what Concourse shows, and never holds a source, params or vars.
func TestPublic(t *testing.T) {
	p, err := Load([]byte(`
resource_types:
- name: custom
  type: registry-image
  source: {repository: r, password: s3cret-type}
resources:
- name: repo
  type: custom
  source: {uri: u, private_key: s3cret-key}
jobs:
- name: j
  plan:
  - get: repo
    params: {depth: 1, token: s3cret-param}
  - across:
    - var: v
      values: [a, b]
    task: t
    params: {P: s3cret-env}
    config: {platform: linux, run: {path: echo}}
    ensure: {set_pipeline: child, file: repo/p.yml, vars: {x: s3cret-var}, instance_vars: {branch: main}}
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := p.Config.CompileJob("j")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(Public(plan))
	text := string(raw)
	if strings.Contains(text, "s3cret") || strings.Contains(text, `"source"`) || strings.Contains(text, `"params"`) {
		t.Errorf("the public plan shows what it must not:\n%s", text)
	}
	for _, want := range []string{`"name":"repo","resource":"repo","type":"custom"`, `"image_check_plan":{"check":{"name":"custom","type":"registry-image"}`,
		`"across":{"fail_fast":false,"vars":[{"name":"v"}]}`, `"set_pipeline":{"instance_vars":{"branch":"main"},"name":"child"}`, `"ensure":{"ensure":`} {
		if !strings.Contains(text, want) {
			t.Errorf("no %s in\n%s", want, text)
		}
	}
}

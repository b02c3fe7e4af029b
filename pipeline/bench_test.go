package pipeline

import (
	"fmt"
	"strings"
	"testing"
)

// generatePipeline writes a pipeline of stages × perStage jobs: 50 git repos and
// 50 images, each job getting two repos through passed constraints on the stage
// before it, running an inline task and putting an image. It is the shape of a
// large monorepo pipeline, fed to both a test and the benchmark.
func generatePipeline(stages, perStage int) []byte {
	var b strings.Builder
	b.WriteString("resource_types:\n- name: slack\n  type: registry-image\n  source: {repository: example/slack}\n")
	b.WriteString("resources:\n")
	for i := range 50 {
		fmt.Fprintf(&b, "- name: repo-%d\n  type: git\n  check_every: 5m\n  source: {uri: https://git.example.com/((org))/repo-%d.git, branch: main}\n", i, i)
		fmt.Fprintf(&b, "- name: image-%d\n  type: registry-image\n  source: {repository: registry.example.com/app-%d, password: ((registry-password))}\n", i, i)
	}
	b.WriteString("jobs:\n")
	for s := range stages {
		for k := range perStage {
			fmt.Fprintf(&b, "- name: stage-%d-job-%d\n  serial_groups: [group-%d]\n  plan:\n  - in_parallel:\n", s, k, k%10)
			for _, r := range []int{k % 50, (k + 1) % 50} {
				fmt.Fprintf(&b, "    - get: repo-%d\n      trigger: true\n", r)
				if s > 0 {
					fmt.Fprintf(&b, "      passed: [stage-%d-job-%d]\n", s-1, k)
				}
			}
			fmt.Fprintf(&b, `  - task: build
    timeout: 30m
    config:
      platform: linux
      image_resource: {type: registry-image, source: {repository: golang}}
      inputs: [{name: repo-%d}, {name: repo-%d}]
      outputs: [{name: out}]
      params: {STAGE: "%d", JOB: "%d"}
      run: {path: make, args: [-C, repo-%d, build]}
  - put: image-%d
    inputs: [out]
    params: {image: out/image.tar}
`, k%50, (k+1)%50, s, k, k%50, k%50)
			fmt.Fprintf(&b, "  on_failure:\n    task: report\n    config: {platform: linux, run: {path: echo, args: [failed]}}\n")
		}
	}
	return []byte(b.String())
}

func TestGeneratedPipelineIsValid(t *testing.T) {
	p, err := Load(generatePipeline(10, 100), Options{Vars: Vars{"org": "acme"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Config.Jobs) != 1000 || len(p.Config.Resources) != 100 {
		t.Fatalf("%d jobs, %d resources", len(p.Config.Jobs), len(p.Config.Resources))
	}
}

// BenchmarkLoad1000Jobs parses, interpolates, decodes and validates a pipeline
// of 1,000 jobs (about 1 MB of YAML).
func BenchmarkLoad1000Jobs(b *testing.B) {
	data := generatePipeline(10, 100)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(data, Options{Vars: Vars{"org": "acme"}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompile1000Jobs compiles the plan of every job of that pipeline.
func BenchmarkCompile1000Jobs(b *testing.B) {
	p, err := Load(generatePipeline(10, 100), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, j := range p.Config.Jobs {
			if _, err := p.Config.CompileJob(j.Name); err != nil {
				b.Fatal(err)
			}
		}
	}
}

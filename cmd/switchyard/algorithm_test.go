package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard-ci/switchyard/algorithm/scenario"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
)

// The runner passes a right scenario and fails, with exit 1, one whose
// expectation is wrong.
func TestAlgorithmCheck(t *testing.T) {
	scenarios, err := scenario.Load("../../algorithm/testdata/scenarios.json")
	if err != nil {
		t.Fatal(err)
	}
	right := scenarios[0]
	wrong := scenarios[0]
	exp := *wrong.Expected
	exp.Versions = map[string]string{}
	for k := range right.Expected.Versions {
		exp.Versions[k] = "not-what-concourse-picks"
	}
	wrong.Expected = &exp
	wrong.ID = "wrong/001"
	dir := t.TempDir()
	file := filepath.Join(dir, "s.json")
	data, _ := json.Marshal(scenario.File{Schema: "concourse-input-algorithm-scenarios/v1", Scenarios: []scenario.Scenario{right, wrong}})
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code := run(context.Background(), []string{"algorithm", "check", "--scenarios", file, "--database-url", storetest.URL(t)}, &out, &out)
	got := out.String()
	if code != 1 || !strings.Contains(got, "PASS "+right.ID) || !strings.Contains(got, "FAIL wrong/001") || !strings.HasSuffix(got, "1 passed, 1 failed\n") {
		t.Errorf("exit %d:\n%s", code, got)
	}
}

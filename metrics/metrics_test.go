package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

const (
	dashboard     = "../charts/hub/dashboards/switchyard.json"
	metricPattern = `\b(concourse|switchyard)_[a-zA-Z_]+\b`
)

// Every query of the Grafana dashboard names metrics that exist, and every
// panel has a query.
func TestDashboardQueriesKnownMetrics(t *testing.T) {
	raw, err := os.ReadFile(dashboard)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("%s: %v", dashboard, err)
	}
	known := map[string]Metric{}
	for _, m := range All() {
		known[m.Name] = m
	}
	used := map[string]bool{}
	name := regexp.MustCompile(metricPattern)
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_count"), "_sum")
				if _, ok := known[base]; !ok {
					t.Errorf("panel %q queries %s, which no part exports", p.Title, n)
				}
				used[base] = true
			}
		}
	}
	for _, area := range []string{"concourse_builds_", "concourse_steps_waiting", "switchyard_placement_", "concourse_workers_", "switchyard_artifact_", "concourse_db_"} {
		found := false
		for n := range used {
			found = found || strings.HasPrefix(n, area)
		}
		if !found {
			t.Errorf("the dashboard shows nothing of %s*", area)
		}
	}
}

// No metric is labelled by something unbounded: a build's, a step's or a
// version's id.
func TestLabelsAreBounded(t *testing.T) {
	for _, m := range All() {
		for _, l := range m.Labels {
			if strings.Contains(l, "build") || strings.Contains(l, "step") || strings.Contains(l, "version") {
				t.Errorf("%s is labelled %s", m.Name, l)
			}
		}
	}
}

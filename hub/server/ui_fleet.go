package server

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/web"
	"github.com/switchyard-ci/switchyard/placement"
)

// The fleet page: spokes and policies.

// fleetPage lists the spokes the caller may see (as fly workers does)
// with their state, capacity and load, and the policies in force.
func (s *Server) fleetPage(w http.ResponseWriter, r *http.Request, c *caller) error {
	type spokeView struct {
		Name, Team, State, Labels, Tags, Capacity, Load string
	}
	spokes, err := s.store.Spokes(r.Context())
	if err != nil {
		return err
	}
	loads, err := s.store.SpokeLoads(r.Context())
	if err != nil {
		return err
	}
	load := map[int64]store.Load{}
	for _, l := range loads {
		load[l.ID] = l.Load
	}
	var views []spokeView
	for _, sp := range spokes {
		if sp.TeamName != "" && !c.admin && len(c.teams[sp.TeamName]) == 0 {
			continue
		}
		var capacity placement.Resources
		_ = json.Unmarshal(sp.Capacity, &capacity)
		var labels map[string]string
		_ = json.Unmarshal(sp.Labels, &labels)
		var pairs []string
		for k, v := range labels {
			pairs = append(pairs, k+"="+v)
		}
		sort.Strings(pairs)
		l := load[sp.ID]
		views = append(views, spokeView{Name: sp.Name, Team: cmp.Or(sp.TeamName, "shared pool"), State: sp.WorkerState(),
			Labels: strings.Join(pairs, ", "), Tags: strings.Join(sp.Tags, ", "), Capacity: resources(capacity),
			Load: resources(placement.Resources{Steps: l.Steps, CPU: l.CPU, Memory: l.Memory})})
	}
	type policyView struct{ Name, Scope, Kind, OnError string }
	var policies []policyView
	all, err := s.store.ActivePolicies(r.Context())
	if err != nil {
		return err
	}
	for _, p := range all {
		if p.TeamID != 0 && !c.admin && len(c.teams[p.TeamName]) == 0 {
			continue
		}
		scope := "global"
		if p.TeamID != 0 {
			scope = "team " + p.TeamName
		}
		policies = append(policies, policyView{p.Name, scope, p.Engine, p.OnError})
	}
	return render(w, r, http.StatusOK, "fleet", struct {
		web.Page
		Spokes   []spokeView
		Policies []policyView
	}{s.pageOf(r, c, "Fleet"), views, policies})
}

// resources is a capacity or load as people read it.
func resources(r placement.Resources) string {
	var parts []string
	if r.Steps > 0 {
		parts = append(parts, fmt.Sprintf("%d steps", r.Steps))
	}
	if r.CPU > 0 {
		parts = append(parts, fmt.Sprintf("%g CPUs", r.CPU))
	}
	if r.Memory > 0 {
		parts = append(parts, fmt.Sprintf("%.1f GiB", float64(r.Memory)/(1<<30)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

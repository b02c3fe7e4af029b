package server

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/switchyard-ci/switchyard/hub/auth"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/web"
)

// statusRank orders statuses from best to worst, for a card that sums up
// several jobs or pipelines.
var statusRank = map[string]int{"no-builds": 0, "paused": 0, "succeeded": 1, "aborted": 2, "errored": 3, "failed": 4}

// worst is the worst of statuses (each maybe ending in " running"), and
// whether any is running.
func worst(statuses ...string) (string, bool) {
	status, running := "no-builds", false
	for _, s := range statuses {
		s, r := strings.CutSuffix(s, " running")
		running = running || r
		if statusRank[s] > statusRank[status] {
			status = s
		}
	}
	return status, running
}

// pipelineStatus is a pipeline's status on the dashboard: the worst of its
// jobs' latest builds, " running" after it when one runs.
func pipelineStatus(jobs []jobView) string {
	statuses := make([]string, 0, len(jobs))
	for _, j := range jobs {
		s := j.Status
		if j.Running {
			s += " running"
		}
		statuses = append(statuses, s)
	}
	status, running := worst(statuses...)
	if running {
		return status + " running"
	}
	return status
}

// cardView is a pipeline's card, or an instance group's: the instanced
// pipelines of one name, each a square (their own cards are a search
// away, group:NAME).
type cardView struct {
	ID                              int64
	Name, URL, Status, InstanceVars string
	API                             string // pause and unpause; "" when the caller may not
	Paused                          bool
	Jobs                            []jobView
	Instances                       []instanceView // an instance group's pipelines
}

// instanceView is one pipeline of an instance group.
type instanceView struct {
	ID                int64
	Vars, URL, Status string
}

type teamView struct {
	Name  string
	Cards []cardView
}

func (s *Server) dashboardPage(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.dashboard(w, r, c, false)
}

// hdPage is the dashboard in high density: every pipeline a name on its
// status colour, for a wall screen.
func (s *Server) hdPage(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.dashboard(w, r, c, true)
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request, c *caller, hd bool) error {
	search := strings.TrimSpace(r.URL.Query().Get("search"))
	if len(search) > maxSearch {
		return errorf(http.StatusBadRequest, "search: at most %d characters", maxSearch)
	}
	all := r.URL.Query().Get("view") == "all"
	ps, err := s.store.Pipelines(r.Context(), 0)
	if err != nil {
		return err
	}
	var visible []store.Pipeline
	for _, p := range ps {
		if (p.Public || c.role(p.TeamName) > 0) && (!p.Archived || all) {
			visible = append(visible, p)
		}
	}
	jobsOf, err := s.jobViews(r, visible...)
	if err != nil {
		return err
	}
	grouped := !strings.Contains(search, "group:")
	var teams []teamView
	groups := map[[2]string]int{} // team, name -> index of the group's card in the team's
	for _, p := range visible {
		jobs := jobsOf[p.ID]
		status := pipelineStatus(jobs)
		instanced := varsOf(p) != ""
		if !matches(search, p.TeamName, p.Name, status, instanced) {
			continue
		}
		if len(teams) == 0 || teams[len(teams)-1].Name != p.TeamName {
			teams = append(teams, teamView{Name: p.TeamName})
		}
		t := &teams[len(teams)-1]
		if instanced && grouped {
			instance := instanceView{ID: p.ID, Vars: p.InstanceVars, URL: pipelineURL(p), Status: status}
			if p.Paused {
				instance.Status = "paused"
			}
			key := [2]string{p.TeamName, p.Name}
			i, ok := groups[key]
			if !ok {
				i = len(t.Cards)
				groups[key] = i
				t.Cards = append(t.Cards, cardView{Name: p.Name,
					URL: "/?search=" + url.QueryEscape("team:"+p.TeamName+" group:"+p.Name)})
			}
			t.Cards[i].Instances = append(t.Cards[i].Instances, instance)
			continue
		}
		card := cardView{ID: p.ID, Name: p.Name, URL: pipelineURL(p), Status: status, Paused: p.Paused, Jobs: jobs}
		card.InstanceVars = varsOf(p)
		if c.role(p.TeamName) >= auth.PipelineOperator && !p.Archived {
			card.API = pipelineAPI(p)
		}
		t.Cards = append(t.Cards, card)
	}
	// An instance group's card shows the worst of its instances.
	for _, t := range teams {
		for i := range t.Cards {
			card := &t.Cards[i]
			if len(card.Instances) == 0 {
				continue
			}
			statuses := make([]string, 0, len(card.Instances))
			for _, in := range card.Instances {
				statuses = append(statuses, in.Status)
			}
			st, running := worst(statuses...)
			card.Status = st
			if running {
				card.Status += " running"
			}
		}
	}
	sort.SliceStable(teams, func(i, j int) bool { return teams[i].Name < teams[j].Name })
	return render(w, r, http.StatusOK, "dashboard", struct {
		web.Page
		Search, Since string
		HD            bool
		Teams         []teamView
	}{s.pageOf(r, c, "Pipelines"), search, since(), hd, teams})
}

// maxSearch bounds the dashboard's search.
const maxSearch = 500

// matches is the dashboard's search: words that all hold, each a part of
// a pipeline's name, team:NAME, status:STATUS or group:NAME (the
// instances of an instanced pipeline). A value may be quoted, as
// Concourse writes team:"main".
func matches(search, team, name, status string, instanced bool) bool {
	for _, word := range strings.Fields(search) {
		k, v, found := strings.Cut(word, ":")
		v = strings.Trim(v, `"`)
		switch {
		case found && k == "team":
			if !strings.EqualFold(team, v) {
				return false
			}
		case found && k == "status":
			if !strings.Contains(status, strings.ToLower(v)) {
				return false
			}
		case found && k == "group":
			if !instanced || name != v {
				return false
			}
		default:
			if !strings.Contains(strings.ToLower(name), strings.ToLower(strings.Trim(word, `"`))) {
				return false
			}
		}
	}
	return true
}

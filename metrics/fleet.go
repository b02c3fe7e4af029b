package metrics

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// FleetSpoke is a spoke as the worker metrics show it.
type FleetSpoke struct {
	Name  string
	Team  string // "" for a shared pool
	Tags  []string
	State string // running, landing, landed, retiring or stalled
	Steps int    // open steps (Concourse's containers)
	Tasks int    // open task steps
}

// Fleet reports each spoke as a Concourse worker at scrape time, read by
// list (the store, one query): concourse_workers_registered by state,
// concourse_workers_containers and concourse_workers_tasks by spoke.
type Fleet struct {
	list    func(context.Context) ([]FleetSpoke, error)
	timeout time.Duration
	errors  prometheus.Counter
}

// NewFleet makes the fleet's collector; a scrape waits at most timeout for
// list, and counts the lists that failed.
func NewFleet(list func(context.Context) ([]FleetSpoke, error), timeout time.Duration) *Fleet {
	return &Fleet{list: list, timeout: timeout,
		errors: counter("switchyard_fleet_scrape_errors_total", "Scrapes whose list of spokes failed (the worker metrics are then missing).")}
}

var (
	registeredDesc = prometheus.NewDesc("concourse_workers_registered", "Spokes (workers) by state.", []string{"state"}, nil)
	containersDesc = prometheus.NewDesc("concourse_workers_containers", "Open steps (containers) on a spoke.", []string{"worker", "platform", "team", "tags"}, nil)
	tasksDesc      = prometheus.NewDesc("concourse_workers_tasks", "Open task steps on a spoke.", []string{"worker", "platform"}, nil)
)

// WorkerStates are Concourse's worker states, each reported even at zero.
var WorkerStates = []string{"running", "landing", "landed", "retiring", "stalled"}

func (f *Fleet) Describe(ch chan<- *prometheus.Desc) {
	ch <- registeredDesc
	ch <- containersDesc
	ch <- tasksDesc
	f.errors.Describe(ch)
}

func (f *Fleet) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	spokes, err := f.list(ctx)
	if err != nil {
		f.errors.Inc()
		f.errors.Collect(ch)
		return
	}
	f.errors.Collect(ch)
	states := map[string]int{}
	for _, s := range WorkerStates {
		states[s] = 0
	}
	for _, sp := range spokes {
		states[sp.State]++
		ch <- prometheus.MustNewConstMetric(containersDesc, prometheus.GaugeValue, float64(sp.Steps), sp.Name, "linux", sp.Team, strings.Join(sp.Tags, "/"))
		ch <- prometheus.MustNewConstMetric(tasksDesc, prometheus.GaugeValue, float64(sp.Tasks), sp.Name, "linux")
	}
	for s, n := range states {
		ch <- prometheus.MustNewConstMetric(registeredDesc, prometheus.GaugeValue, float64(n), s)
	}
}

// DBConnections reports the open connections of each database pool at
// scrape time (concourse_db_connections, labelled dbname as Concourse's).
type DBConnections func() map[string]int

var connectionsDesc = prometheus.NewDesc("concourse_db_connections", "Open database connections, by pool.", []string{"dbname"}, nil)

func (d DBConnections) Describe(ch chan<- *prometheus.Desc) { ch <- connectionsDesc }

func (d DBConnections) Collect(ch chan<- prometheus.Metric) {
	for pool, n := range d() {
		ch <- prometheus.MustNewConstMetric(connectionsDesc, prometheus.GaugeValue, float64(n), pool)
	}
}

package metrics

import (
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Concourse's buckets.
var (
	durationBuckets   = []float64{1, 60, 180, 300, 600, 900, 1200, 1800, 2700, 3600, 7200, 18000, 36000}
	schedulingBuckets = []float64{30, 60, 180, 300, 600, 900, 1200, 1800, 2700, 3600, 7200, 18000, 36000}
	waitBuckets       = []float64{10, 30, 60, 120, 300, 600, 1800, 2400, 3000, 3600}
	// Switchyard's own latencies, in seconds: a placement or a policy's
	// evaluation takes well under a second.
	fastBuckets     = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	transferBuckets = []float64{.01, .05, .1, .5, 1, 5, 10, 30, 60, 300, 900}
)

func counter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
}

func gauge(name, help string) prometheus.Gauge {
	return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
}

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

func gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
}

func histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
}

// Builds (hub).
var (
	BuildsStarted      = counter("concourse_builds_started_total", "Job and one-off builds started.")
	BuildsRunning      = gauge("concourse_builds_running", "Job and one-off builds this hub runs now.")
	BuildsFinishedAll  = counter("concourse_builds_finished_total", "Job and one-off builds finished.")
	BuildsSucceeded    = counter("concourse_builds_succeeded_total", "Builds that succeeded.")
	BuildsFailed       = counter("concourse_builds_failed_total", "Builds that failed.")
	BuildsErrored      = counter("concourse_builds_errored_total", "Builds that errored.")
	BuildsAborted      = counter("concourse_builds_aborted_total", "Builds that were aborted.")
	BuildsFinished     = counterVec("concourse_builds_finished", "Builds finished, by team, pipeline, job and status.", "team", "pipeline", "job", "status")
	BuildDuration      = histogramVec("concourse_builds_duration_seconds", "End minus start of finished builds, by team, pipeline and job.", durationBuckets, "team", "pipeline", "job")
	LatestBuildStatus  = gaugeVec("concourse_builds_latest_completed_build_status", "Status of a job's latest completed build: 0 succeeded, 1 failed, 2 aborted, 3 errored.", "jobName", "pipelineName", "teamName")
	CheckBuildsStarted = counter("concourse_builds_check_started_total", "Check builds started.")
	CheckBuildsRunning = gauge("concourse_builds_check_running", "Check builds this hub runs now.")
	CheckBuildsDone    = counter("concourse_builds_check_finished_total", "Check builds finished.")
	CheckBuildsByState = map[string]prometheus.Counter{
		"succeeded": counter("concourse_builds_check_succeeded_total", "Check builds that succeeded."),
		"failed":    counter("concourse_builds_check_failed_total", "Check builds that failed."),
		"errored":   counter("concourse_builds_check_errored_total", "Check builds that errored."),
		"aborted":   counter("concourse_builds_check_aborted_total", "Check builds that were aborted."),
	}
)

// Steps and their placement (hub).
var (
	StepsWaiting      = gaugeVec("concourse_steps_waiting", "Steps waiting for a spoke (a worker) to run them.", "platform", "teamId", "teamName", "type", "workerTags")
	StepsWaitDuration = histogramVec("concourse_steps_wait_duration", "Seconds a step waited until a spoke was chosen.", waitBuckets, "platform", "teamId", "teamName", "type", "workerTags")
	Placements        = counterVec("switchyard_placement_decisions_total", "Placement decisions, by outcome: placed, waiting (no spoke may run the step now) or error.", "outcome")
	PlacementSeconds  = histogramVec("switchyard_placement_duration_seconds", "Seconds one placement decision took, policies included, by outcome.", fastBuckets, "outcome")
	PolicyEvaluations = counterVec("switchyard_policy_evaluations_total", "Policy evaluations, by policy and outcome: ok, error or timeout.", "policy", "outcome")
	PolicySeconds     = histogramVec("switchyard_policy_evaluation_duration_seconds", "Seconds one evaluation of a policy took, by policy.", fastBuckets, "policy")
)

// Scheduling, checks and the database (hub).
var (
	JobsScheduled      = counter("concourse_jobs_scheduled_total", "Job scheduling runs.")
	JobsScheduling     = gauge("concourse_jobs_scheduling", "Jobs being scheduled now.")
	JobsSchedulingTime = histogramVec("concourse_jobs_schedulingDuration", "Milliseconds one scheduling of a job took.", schedulingBuckets, "pipeline", "job", "job_id")
	SchedulerQueue     = gauge("switchyard_scheduler_queue_depth", "Jobs that asked to be scheduled and wait for the scheduler.")
	ChecksStarted      = counter("concourse_lidar_checks_started_total", "Checks that ran a resource's check.")
	ChecksFinished     = counterVec("concourse_lidar_checks_finished_total", "Checks finished, by status: success or error.", "status")
	ChecksEnqueued     = counter("concourse_lidar_checks_enqueued_total", "Periodic checks the checker started.")
	DBQueries          = counter("concourse_db_queries_total", "Statements sent to the database.")
	TxRetries          = counterVec("switchyard_db_transaction_retries_total", "Transactions and reads run again, by cause: serialization, deadlock, ambiguous_commit or other.", "cause")
	HTTPDuration       = histogramVec("concourse_http_responses_duration_seconds", "Seconds to answer an API request, by method, route and status.", prometheus.DefBuckets, "method", "route", "status")
)

// The fleet (hub).
var (
	LeaseRenewals = counterVec("switchyard_spoke_lease_renewals_total", "Heartbeats that renewed a spoke's lease, by spoke.", "spoke")
	SpokeLosses   = counterVec("switchyard_spoke_losses_total", "Runs a spoke lost (its process or pod went with the step), by spoke.", "spoke")
)

// Artifacts and steps (spoke).
var (
	ArtifactBytes     = counterVec("switchyard_artifact_bytes_total", "Bytes of build artifacts moved through object storage, by direction: upload or download.", "direction")
	ArtifactSeconds   = histogramVec("switchyard_artifact_transfer_seconds", "Seconds one artifact transfer took, by direction.", transferBuckets, "direction")
	ArtifactCacheHits = counter("switchyard_artifact_cache_hits_total", "Input artifacts a spoke had in its cache and did not download.")
	StepsRun          = counterVec("switchyard_spoke_steps_total", "Steps a spoke ran, by kind and result: succeeded, failed or errored.", "kind", "result")
	StepsRunning      = gauge("switchyard_spoke_steps_running", "Steps a spoke runs now.")
)

// hubCollectors are the hub's own metrics, but for those read at scrape
// time (Fleet, DBConnections).
func hubCollectors() []prometheus.Collector {
	cs := []prometheus.Collector{BuildsStarted, BuildsRunning, BuildsFinishedAll, BuildsSucceeded, BuildsFailed, BuildsErrored, BuildsAborted,
		BuildsFinished, BuildDuration, LatestBuildStatus, CheckBuildsStarted, CheckBuildsRunning, CheckBuildsDone,
		StepsWaiting, StepsWaitDuration, Placements, PlacementSeconds, PolicyEvaluations, PolicySeconds,
		JobsScheduled, JobsScheduling, JobsSchedulingTime, SchedulerQueue, ChecksStarted, ChecksFinished, ChecksEnqueued,
		DBQueries, TxRetries, HTTPDuration, LeaseRenewals, SpokeLosses}
	for _, c := range CheckBuildsByState {
		cs = append(cs, c)
	}
	return cs
}

func spokeCollectors() []prometheus.Collector {
	return []prometheus.Collector{ArtifactBytes, ArtifactSeconds, ArtifactCacheHits, StepsRun, StepsRunning}
}

// Hub is a registry of the hub's metrics, with Go's and the process's, and
// extra collectors (the fleet's).
func Hub(extra ...prometheus.Collector) *prometheus.Registry {
	r := base()
	r.MustRegister(hubCollectors()...)
	r.MustRegister(extra...)
	return r
}

// Spoke is a registry of a spoke's metrics, with Go's and the process's.
func Spoke() *prometheus.Registry {
	r := base()
	r.MustRegister(spokeCollectors()...)
	return r
}

// Metric is one of Switchyard's metrics as the docs list it.
type Metric struct {
	Name, Help string
	Labels     []string
	Hub, Spoke bool // exported by the hub, by the spoke
}

// All lists every metric of the hub and the spoke (Go's and the process's
// aside), by name: what the README's table and the dashboard are checked
// against.
func All() []Metric {
	byName := map[string]*Metric{}
	var order []string
	add := func(cs []prometheus.Collector, hub bool) {
		for _, c := range cs {
			ch := make(chan *prometheus.Desc, 16)
			go func() { c.Describe(ch); close(ch) }()
			for d := range ch {
				name, help, labels := parseDesc(d.String())
				m := byName[name]
				if m == nil {
					m = &Metric{Name: name, Help: help, Labels: labels}
					byName[name] = m
					order = append(order, name)
				}
				if hub {
					m.Hub = true
				} else {
					m.Spoke = true
				}
			}
		}
	}
	fleet := NewFleet(nil, 0)
	add(append(hubCollectors(), fleet, DBConnections(nil)), true)
	add(spokeCollectors(), false)
	sort.Strings(order)
	out := make([]Metric, len(order))
	for i, n := range order {
		out[i] = *byName[n]
	}
	return out
}

// parseDesc reads a Desc's String(): client_golang gives no other way to
// its name, help and variable labels.
func parseDesc(s string) (name, help string, labels []string) {
	field := func(key string) string {
		i := strings.Index(s, key+": \"")
		if i < 0 {
			return ""
		}
		rest := s[i+len(key)+3:]
		return rest[:strings.Index(rest, "\"")]
	}
	name, help = field("fqName"), field("help")
	if i := strings.Index(s, "variableLabels: {"); i >= 0 {
		rest := s[i+len("variableLabels: {"):]
		if list := rest[:strings.Index(rest, "}")]; list != "" {
			labels = strings.Split(list, ",")
		}
	}
	return name, help, labels
}

func base() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

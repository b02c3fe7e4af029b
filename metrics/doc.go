// Package metrics defines every Prometheus metric the hub and the spoke
// export, and the registries /metrics serves them from. Where Concourse has
// a metric for the same thing it has its name, labels and buckets
// (../shared/CONCOURSE-FEATURES.md §8), so existing dashboards keep
// working; what Concourse lacks is named switchyard_*. Labels hold only
// bounded values (teams, pipelines, jobs, spokes, policies, states), never
// build or step ids.
//
// The metrics are package variables that the parts which count update
// directly; Hub and Spoke are the registries of each process kind. Reading
// the store at scrape time (spokes and their states) is the hub's Fleet
// collector. It is not tracing: that is package telemetry.
package metrics

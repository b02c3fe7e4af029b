package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/metrics"
	"github.com/switchyard-ci/switchyard/telemetry"
	"github.com/switchyard-ci/switchyard/wire"
)

// Observability: a build's and its steps' spans, metrics and log
// attributes. The spans' IDs are stored with the build and in each step's
// request, so the hub that ends one need not be the hub that began it.

// isCheck tells a check build (of a resource or a resource type) from a
// job's or a one-off build.
func (r *run) isCheck() bool { return r.build.ResourceName != "" || r.plan.Check != nil }

// began counts a build this run started.
func (r *run) began() {
	if r.isCheck() {
		metrics.CheckBuildsStarted.Inc()
	} else {
		metrics.BuildsStarted.Inc()
	}
}

// running counts the build among those this hub runs, until done is called.
func (r *run) running() (done func()) {
	g := metrics.BuildsRunning
	if r.isCheck() {
		g = metrics.CheckBuildsRunning
	}
	g.Inc()
	return g.Dec
}

// ended counts a finished build and exports its span.
func (r *run) ended(ctx context.Context, status api.BuildStatus, err error) {
	b := r.build
	start := b.CreateTime
	if b.StartTime != nil {
		start = *b.StartTime
	}
	if r.isCheck() {
		metrics.CheckBuildsDone.Inc()
		if c := metrics.CheckBuildsByState[string(status)]; c != nil {
			c.Inc()
		}
		result := "success"
		if status != api.BuildSucceeded {
			result = "error"
		}
		metrics.ChecksFinished.WithLabelValues(result).Inc()
	} else {
		metrics.BuildsFinishedAll.Inc()
		switch status {
		case api.BuildSucceeded:
			metrics.BuildsSucceeded.Inc()
		case api.BuildFailed:
			metrics.BuildsFailed.Inc()
		case api.BuildErrored:
			metrics.BuildsErrored.Inc()
		case api.BuildAborted:
			metrics.BuildsAborted.Inc()
		}
		metrics.BuildsFinished.WithLabelValues(b.TeamName, b.PipelineName, b.JobName, string(status)).Inc()
		metrics.BuildDuration.WithLabelValues(b.TeamName, b.PipelineName, b.JobName).Observe(time.Since(start).Seconds())
		if b.JobID != 0 {
			metrics.LatestBuildStatus.WithLabelValues(b.JobName, b.PipelineName, b.TeamName).Set(statusNumber[status])
		}
	}
	if !telemetry.Enabled() {
		return
	}
	name := r.pipelineName()
	attrs := []attribute.KeyValue{
		semconv.CICDPipelineName(name), semconv.CICDPipelineRunID(strconv.FormatInt(b.ID, 10)),
		semconv.CICDPipelineActionNameRun, semconv.CICDPipelineResultKey.String(pipelineResult[status]),
		attribute.String("switchyard.team", b.TeamName), attribute.String("switchyard.build.name", b.Name),
	}
	if r.e.externalURL != "" {
		attrs = append(attrs, semconv.CICDPipelineRunURLFull(fmt.Sprintf("%s/builds/%d", strings.TrimSuffix(r.e.externalURL, "/"), b.ID)))
	}
	if b.PipelineName != "" {
		attrs = append(attrs, attribute.String("switchyard.pipeline", b.PipelineName))
	}
	if b.JobName != "" {
		attrs = append(attrs, attribute.String("switchyard.job", b.JobName))
	}
	if b.ResourceName != "" {
		attrs = append(attrs, attribute.String("switchyard.resource", b.ResourceName))
	}
	if status != api.BuildErrored {
		err = nil
	} else if err == nil {
		err = fmt.Errorf("build %s errored", b.Name)
	}
	b.Trace().End(ctx, "RUN "+name, start, trace.SpanKindServer, err, attrs...)
}

// pipelineName is the build's cicd.pipeline.name: PIPELINE/JOB for a job's
// build, PIPELINE/check:RESOURCE for a check, one-off for fly execute's.
func (r *run) pipelineName() string {
	b := r.build
	switch {
	case b.JobName != "":
		return b.PipelineName + "/" + b.JobName
	case b.ResourceName != "":
		return b.PipelineName + "/check:" + b.ResourceName
	case r.plan.Check != nil:
		return b.PipelineName + "/check-type:" + r.plan.Check.ResourceType
	}
	return "one-off"
}

var statusNumber = map[api.BuildStatus]float64{api.BuildSucceeded: 0, api.BuildFailed: 1, api.BuildAborted: 2, api.BuildErrored: 3}

var pipelineResult = map[api.BuildStatus]string{api.BuildSucceeded: "success", api.BuildFailed: "failure", api.BuildErrored: "error", api.BuildAborted: "cancellation"}

// stepLabels are the labels of concourse_steps_waiting and _wait_duration.
func (r *run) stepLabels(req wire.StepRequest) []string {
	return []string{"linux", strconv.FormatInt(r.build.TeamID, 10), r.build.TeamName, string(req.Kind), strings.Join(req.Tags, "_")}
}

package scheduler

import (
	"context"
	"fmt"
	"strings"

	"github.com/switchyard-ci/switchyard/algorithm"
	"github.com/switchyard-ci/switchyard/hub/store"
)

// explain turns the resolver's reason for an input into one a user can act
// on: which input, which passed job, why, and what to do.
func (s *Scheduler) explain(ctx context.Context, j store.SchedulingJob, in store.SchedulingInput, reason string) store.InputError {
	e := store.InputError{Reason: reason}
	switch {
	case reason == algorithm.LatestVersionNotFound || reason == algorithm.VersionNotFound:
		e.Detail = fmt.Sprintf("resource %s has no enabled versions: check it (fly check-resource -r %s/%s) or enable a version",
			in.Resource, j.PipelineName, in.Resource)
	case strings.HasPrefix(reason, "pinned version"):
		e.Detail = fmt.Sprintf("the version pinned for %s is not among the resource's enabled versions: pin another one or unpin it (fly unpin-resource -r %s/%s)",
			in.Resource, j.PipelineName, in.Resource)
	case reason == algorithm.NoSatisfiableBuilds:
		e.Detail = s.explainPassed(ctx, j.PipelineName, in)
	}
	return e
}

// explainPassed says which passed job stops the input.
func (s *Scheduler) explainPassed(ctx context.Context, pipelineName string, in store.SchedulingInput) string {
	states, err := s.store.PassedJobStates(ctx, in.Passed, in.ResourceID)
	if err != nil {
		return "could not look at the passed jobs: " + err.Error()
	}
	for _, st := range states {
		switch {
		case !st.Succeeded:
			return fmt.Sprintf("passed job %s has no succeeded build yet: run it (fly trigger-job -j %s/%s)", st.Name, pipelineName, st.Name)
		case !st.WithResource:
			return fmt.Sprintf("no succeeded build of passed job %s has an enabled version of %s", st.Name, in.Resource)
		}
	}
	names := make([]string, len(states))
	for i, st := range states {
		names[i] = st.Name
	}
	return fmt.Sprintf("the passed jobs (%s) have no succeeded builds that agree on one version of %s and of the inputs sharing those jobs: wait for a build of each to pass the same versions",
		strings.Join(names, ", "), in.Resource)
}

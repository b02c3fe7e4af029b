package api

// BuildStatus is a build's status, as Concourse names it.
type BuildStatus string

const (
	BuildPending   BuildStatus = "pending"
	BuildStarted   BuildStatus = "started"
	BuildSucceeded BuildStatus = "succeeded"
	BuildFailed    BuildStatus = "failed"
	BuildErrored   BuildStatus = "errored"
	BuildAborted   BuildStatus = "aborted"
)

// BuildStatuses lists every status; the database allows exactly these.
var BuildStatuses = []BuildStatus{BuildPending, BuildStarted, BuildSucceeded, BuildFailed, BuildErrored, BuildAborted}

// Finished tells whether a build with the status is over.
func (s BuildStatus) Finished() bool {
	switch s {
	case BuildSucceeded, BuildFailed, BuildErrored, BuildAborted:
		return true
	}
	return false
}

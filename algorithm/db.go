package algorithm

import "context"

// VersionID and BuildID name rows of the store.
type (
	VersionID int64
	BuildID   int64
)

// BuildCursor is a build's place in Concourse's build order: builds sort by
// coalesce(rerun_of, id), then id, so that a rerun sits with its original.
type BuildCursor struct {
	ID    BuildID
	Order int64 // coalesce(rerun_of, id)
	// Outputs is the build's output set (as Builds.Outputs gives it) when
	// the store read it with the build (nil: the resolver asks Outputs).
	// Reading them with a page of builds saves a query per build tried.
	Outputs map[int64]VersionID
}

// Versions answers questions about resource versions, ordered by check order.
type Versions interface {
	// LatestVersion is the newest enabled version of a resource.
	LatestVersion(ctx context.Context, resourceID int64) (VersionID, bool, error)
	// NextEveryVersion is the enabled version after the newest one the job has
	// used as an input (in any build), or, when none follows, the newest enabled
	// one up to it; hasNext says whether another enabled version follows.
	NextEveryVersion(ctx context.Context, jobID, resourceID int64) (v VersionID, hasNext, found bool, err error)
	// EnabledVersion finds an enabled version of a resource by its content.
	EnabledVersion(ctx context.Context, resourceID int64, version map[string]string) (VersionID, bool, error)
}

// Constraints are versions a build's output set must hold: resource -> version.
type Constraints map[int64]VersionID

// Builds answers questions about builds and what passed through them.
type Builds interface {
	// SucceededBuilds lists a job's succeeded builds whose output set (as
	// Outputs gives it) holds the constrained versions, newest first (by
	// build order), starting after the given cursor (nil: from the newest),
	// at most limit.
	SucceededBuilds(ctx context.Context, jobID int64, c Constraints, before *BuildCursor, limit int) ([]BuildCursor, error)
	// UnusedBuilds lists a job's succeeded builds whose output set holds the
	// constrained versions and whose build order is after lastUsed's (so a rerun
	// of the build used last is not new), oldest first, starting after from
	// (nil: from the first), at most limit.
	UnusedBuilds(ctx context.Context, jobID int64, c Constraints, lastUsed BuildCursor, from *BuildCursor, limit int) ([]BuildCursor, error)
	// Outputs is a succeeded build's output set: resource -> the first version
	// of it among the build's outputs, then its inputs, that the resource has
	// and that is enabled. A disabled output of a resource the build also
	// took as an input passes the input's version on, as Concourse does.
	Outputs(ctx context.Context, build BuildID) (map[int64]VersionID, error)
	// LastUsedBuilds maps each upstream job to the build of it that fed the
	// job's build that used the newest version of the resource (by check
	// order; the latest such build in build order), through its build pipes.
	// The job continues from there, not from its latest build, which may
	// have run an old version.
	LastUsedBuilds(ctx context.Context, jobID, resourceID int64) (map[int64]BuildCursor, error)
	// UsedBefore tells whether a build of the job had the input name with that
	// resource and version (first occurrence is its negation).
	UsedBefore(ctx context.Context, jobID int64, inputName string, resourceID int64, v VersionID) (bool, error)
}

// VersionsDB is everything the resolver reads.
type VersionsDB interface {
	Versions
	Builds
}

// Package scheduler decides when jobs get builds. It is event-driven: whatever
// may change a job's next build (a new version, a finished upstream build, a
// pin, a trigger, an unpause) bumps the job's request counter in the store, and
// the scheduler handles only the jobs with unhandled requests. For each it
// resolves the inputs with package algorithm, then lets the store record the
// answer, create a build for new trigger inputs and start pending builds, in
// one transaction that also makes sure that no request is handled twice when
// several hubs run.
package scheduler

// Package engine runs builds: it executes a build's compiled plan (get, put,
// task, do, in_parallel, try, timeout, attempts and the hooks), dispatching each
// get, put and task to a spoke as a step row and waiting for the spoke's result.
//
// Execution is a replay over the store: running a plan again finds the steps it
// created before and waits for them instead of creating new ones, so a hub that
// restarts mid-build resumes it without restarting its steps. Builds change
// status by compare-and-set under a fence that each new owner bumps; a lease row
// per build keeps two replicas from running the same build.
//
// Files, one concern each: plan.go the plan's control flow, tested
// in-process through the run's leaf seam (plan_test.go); run.go a build's
// life (execute, abort, events) and its leaves; dispatch.go a get, put or
// task from request to result; request.go what the spoke runs; admission.go
// the policies' questions as a task starts; place.go placement and waiting
// for a spoke; steps.go the step lifecycle and its events; versions.go check
// builds and the version a get fetches; vars.go the build's ((vars)),
// resolved before a step is placed; watch.go one poll for every step and
// abort the runs wait on, and the ends this hub's gateway stored, handed to
// their waiters; engine.go the loop that takes builds.
package engine

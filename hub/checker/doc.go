// Package checker runs resource checks: periodically, per each resource's
// check_every (default 1m, "never" for none), spread out with jitter and held
// under a global rate; and on demand, for fly check-resource and webhooks.
// Checks are check builds, which the engine runs on spokes like any step; the
// versions they find are saved by the engine, which wakes the scheduler.
package checker

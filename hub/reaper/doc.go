// Package reaper deletes what Switchyard keeps only for a while: the events
// (logs) of old builds, as each job's build_log_retention and the hub's
// defaults and maximums say, and archived pipelines after a retention. It
// works in bounded batches, one job at a time, so it never holds the
// scheduler up. Which builds go is decided by Reap, a pure function.
package reaper

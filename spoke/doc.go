// Package spoke is the agent that runs in each cluster: it dials the hub, joins
// with a team-scoped token, renews its lease, long-polls for the steps placed
// on it, runs them with its runtime and reports their logs (numbered, so a
// resend after a reconnect loses and duplicates nothing) and results, each
// report carrying the step's fence. A step's secret values (which the hub
// sends with it) are replaced with ((redacted)) in its output and error
// before they leave the spoke (package redact).
package spoke

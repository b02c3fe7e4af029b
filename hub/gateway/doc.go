// Package gateway is the hub's spoke-facing API (the paths in package wire):
// a spoke joins with a join token and gets a credential of its own, renews
// its lease, long-polls for its steps, reports their logs and results, asks
// for signed artifact URLs, and dials back for fly intercept sessions. Every
// route but the join and the signed blob URLs takes the spoke's credential,
// and every report is checked by the store against the step's spoke and
// fence: a spoke reaches only the steps and artifacts it was given.
//
// Files: routes.go (the routes and their authentication), gateway.go (join,
// heartbeat, steps, logs and results), assigned.go (steps handed out, kept
// for their reports, and the spokes whose credentials were seen lately,
// kept a moment), artifacts.go (signed URLs and the blobs the hub
// serves itself), intercept.go (the spoke's side of an intercept session),
// vars.go (the ((vars)) of a step handed out, resolved for its spoke only).
package gateway

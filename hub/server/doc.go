// Package server is the hub's HTTP API: Concourse's routes and JSON shapes as of
// v8.2, so that stock fly 8.2 works against the hub. Every route declares the
// access it needs in one table (routes.go); a route without a declared access
// does not start. The spokes' API is package gateway's, which the server
// serves under /api/spoke/ when it is given one (Config.Spokes); fly
// intercept's sessions are shared with it through package intercept.
//
// It translates between HTTP and the store and engine; it does not schedule or
// run builds itself.
package server

// Package server is the hub's HTTP API: Concourse's routes and JSON shapes as of
// v8.2, so that stock fly 8.2 works against the hub, plus the spoke gateway.
// Every route declares the access it needs in one table (routes.go); a route
// without a declared access does not start.
//
// It translates between HTTP and the store and engine; it does not schedule or
// run builds itself.
package server

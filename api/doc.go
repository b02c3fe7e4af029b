// Package api holds the JSON shapes of Concourse's HTTP API as of v8.2 (the
// contract stock fly 8.2 expects; see shared/CONCOURSE.md) and a small Go client
// for them. The hub serves these shapes and Switchyard's fly reads them.
//
// It is not the hub: no handlers, no storage.
package api

// Package keyed holds a mutex per key (a team, a spoke, a job) only while
// someone holds or waits for it, so that the locks of keys that come and go
// do not pile up for the life of the process.
package keyed

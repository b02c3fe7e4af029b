// Package e2e runs Switchyard end to end: the hub, spokes and fly as separate
// processes, built from this checkout, on the real PostgreSQL that
// hack/with-postgres.sh starts.
package e2e

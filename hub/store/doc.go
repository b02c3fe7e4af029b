// Package store keeps the hub's state in SQL that runs unchanged on PostgreSQL 15+
// and CockroachDB: a pgx pool, embedded forward-only migrations applied at start,
// and a transaction helper that retries whole SERIALIZABLE transactions.
//
// Every state change is a compare-and-set so that a retried or ambiguous commit is
// safe. The store does not decide anything: the scheduler, the build engine and the
// algorithm ask it questions and persist their answers through it. Where a
// decision must be made inside a transaction (which builds of a job to create
// and start), the store reads the state, asks the pure rules of package
// hub/schedule and applies their answer in the same transaction.
//
// With encryption keys, the documents that hold configs and resource
// sources rest sealed with AES-GCM (seal.go); every read opens them.
//
// It is not a cache and not a query builder; each method is one bounded query or
// one short transaction. What many callers ask of one job at once (triggers,
// builds that end) is gathered into one transaction (batches.go).
package store

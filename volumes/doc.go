// Package volumes moves build artifacts between spokes: a step's output
// directory becomes a tar stream compressed with zstd, addressed by the
// SHA-256 of those compressed bytes, kept in a spoke's local cache by digest
// (bounded, least recently used first) and written once to object storage
// under its digest. Consumers verify the digest before they extract, and
// extraction is confined to its root.
//
// What it is not: it does not decide who may read an artifact (the hub signs
// URLs for the steps it assigns) nor when artifacts expire (the hub's GC).
package volumes

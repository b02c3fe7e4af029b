// Package artifactgc deletes artifacts from object storage once no build
// needs them: it forgets the artifacts of builds that ended more than a
// retention ago, then deletes every object no build refers to that is older
// than a grace period, which covers uploads in flight (written, not yet
// recorded) and orphaned ones (a spoke that died between upload and result).
//
// What it is not: it does not touch spokes' local caches, which evict on
// their own.
package artifactgc

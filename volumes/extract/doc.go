// Package extract writes tar streams (zstd-compressed as volumes packs them,
// or plain) into a directory, confined to it with os.Root and bounded in the
// bytes and entries it writes, and checks streams the same way without
// writing them (the hub's uploads). It refuses what would leave the root:
// absolute names, "..", links out (through links extracted before too),
// sparse entries, devices and pipes. It is not a general tar tool: it takes
// only what volumes writes.
package extract

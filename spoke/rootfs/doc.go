// Package rootfs writes a container image's filesystem into a directory:
// its layers applied in order, whiteouts and opaque directories honoured, as
// a container runtime does. Every operation goes through an os.Root at the
// directory, so neither an entry, a link nor a whiteout reaches outside it;
// absolute symlinks are kept as they are (they name paths inside the image),
// and are never followed while unpacking. What it writes is bounded in bytes
// and entries, layers whose size their manifest states past the bound are
// refused before they are downloaded, and setuid and setgid bits, devices and
// pipes are dropped: the tree lives on the spoke's disk, not in a container.
package rootfs

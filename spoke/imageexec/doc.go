// Package imageexec runs a task's command inside an image's root file system
// on a local spoke: the image's rootfs/ as the read-only lower layer of an
// overlay whose writes go to the step's scratch directory, the step's
// directory and its inputs bound in, a fresh /proc, a small /dev, and the
// image's user. The spoke re-executes its own binary (Command) in new mount
// and PID namespaces; the child (this package's init) sets the mounts up,
// chroots, drops to the user and executes the command. Every path inside the
// image is resolved through an os.Root, so a link in the image cannot turn a
// mount point into a path of the host.
//
// Unless privileged, the command's capabilities are bounded to Docker's
// default set less mknod. It needs root: mounts need CAP_SYS_ADMIN. It is not
// a sandbox either (no user namespace, seccomp or cgroups): the local
// runtime's steps are trusted.
package imageexec

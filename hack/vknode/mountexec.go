package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// mountExecCommand is how vknode re-executes itself inside a container's fresh
// mount namespace, to bind the container's volumes at their mount paths and then
// become the container's command.
const mountExecCommand = "__mount-exec"

// oPath is Linux's O_PATH: a handle on a path, for mounting from, without
// opening what it names.
const oPath = 0x200000

// mountExecArgs builds the argument list for mountExec.
func mountExecArgs(binds [][2]string, dir string, command []string) []string {
	args := []string{mountExecCommand}
	for _, b := range binds {
		args = append(args, "--bind", b[0], b[1])
	}
	if dir != "" {
		args = append(args, "--dir", dir)
	}
	return append(append(args, "--"), command...)
}

// mountExec runs in the child: its mount namespace is already private (the parent
// set CLONE_NEWNS), so the binds are seen by the container alone.
func mountExec(args []string) int {
	var binds [][2]string
	dir := ""
	for len(args) > 0 && args[0] != "--" {
		switch {
		case args[0] == "--bind" && len(args) >= 3:
			binds = append(binds, [2]string{args[1], args[2]})
			args = args[3:]
		case args[0] == "--dir" && len(args) >= 2:
			dir = args[1]
			args = args[2:]
		default:
			return fail("mount-exec: bad arguments at %q", args[0])
		}
	}
	if len(args) < 2 {
		return fail("mount-exec: no command")
	}
	command := args[1:]
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fail("make mounts private: %v", err)
	}
	// Every source is opened before anything is mounted: a volume at /tmp
	// would otherwise hide the sources of later binds that live under /tmp.
	sources := make([]string, len(binds))
	for i, b := range binds {
		fd, err := syscall.Open(b[0], oPath|syscall.O_CLOEXEC, 0)
		if err != nil {
			return fail("mount %s at %s: %v", b[0], b[1], err)
		}
		sources[i] = fmt.Sprintf("/proc/self/fd/%d", fd)
	}
	for i, b := range binds {
		if err := bind(sources[i], b[1]); err != nil {
			return fail("mount %s at %s: %v", b[0], b[1], err)
		}
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fail("working dir: %v", err)
		}
		if err := os.Chdir(dir); err != nil {
			return fail("working dir: %v", err)
		}
	}
	path, err := exec.LookPath(command[0])
	if err != nil {
		return fail("%s: %v", command[0], err)
	}
	err = syscall.Exec(path, command, os.Environ())
	return fail("exec %s: %v", path, err)
}

func bind(src, dst string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if st.IsDir() {
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
	} else {
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(dst, os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		f.Close()
	}
	return syscall.Mount(src, dst, "", syscall.MS_BIND|syscall.MS_REC, "")
}

// fail reports like a container runtime would: to the container's log, exit 127.
func fail(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "vknode: "+format+"\n", args...)
	return 127
}

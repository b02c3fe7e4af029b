package imageexec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

func init() {
	if len(os.Args) == 3 && os.Args[1] == childArg {
		os.Exit(child(os.Args[2]))
	}
}

// child runs in the new namespaces: it mounts, enters the image and becomes
// the command. It returns only on failure, reported as a container runtime
// would: on stderr, exit status 127.
func child(arg string) int {
	var s Spec
	if err := json.Unmarshal([]byte(arg), &s); err != nil {
		return fail("bad spec: %v", err)
	}
	if err := s.check(); err != nil {
		return fail("%v", err)
	}
	root, err := s.mount()
	if err != nil {
		return fail("%v", err)
	}
	if err := syscall.Chroot(root); err != nil {
		return fail("enter the image: %v", err)
	}
	if err := os.Chdir(s.Dir); err != nil {
		return fail("working directory %s: %v", s.Dir, err)
	}
	if !s.Privileged {
		if err := dropCapabilities(); err != nil {
			return fail("%v", err)
		}
	}
	if err := s.User.become(); err != nil {
		return fail("%v", err)
	}
	path, err := lookPath(s.Path, os.Getenv("PATH"))
	if err != nil {
		return fail("%v", err)
	}
	err = syscall.Exec(path, append([]string{s.Path}, s.Args...), os.Environ())
	return fail("exec %s: %v", s.Path, err)
}

func fail(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "image: "+format+"\n", args...)
	return 127
}

// mount builds the image's root under Scratch and returns its path.
func (s Spec) mount() (string, error) {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return "", fmt.Errorf("make mounts private: %w", err)
	}
	upper, work, merged := filepath.Join(s.Scratch, "upper"), filepath.Join(s.Scratch, "work"), filepath.Join(s.Scratch, "root")
	for _, d := range []string{upper, work, merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	opts := "lowerdir=" + s.Rootfs + ",upperdir=" + upper + ",workdir=" + work
	if err := syscall.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return "", fmt.Errorf("mount the image's root file system (overlay): %w", err)
	}
	root, err := os.OpenRoot(merged)
	if err != nil {
		return "", err
	}
	defer root.Close()
	if err := mountAt(root, "proc", false, func(target string) error {
		return syscall.Mount("proc", target, "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "")
	}); err != nil {
		return "", fmt.Errorf("mount /proc: %w", err)
	}
	if err := devices(root); err != nil {
		return "", fmt.Errorf("mount /dev: %w", err)
	}
	for _, f := range []string{"etc/resolv.conf", "etc/hosts"} {
		// Name resolution as on the spoke, when the image leaves room for it.
		if data, err := os.ReadFile("/" + f); err == nil {
			_ = root.MkdirAll(filepath.Dir(f), 0o755)
			_ = root.WriteFile(f, data, 0o644)
		}
	}
	for _, b := range s.Binds {
		st, err := os.Stat(b.Src)
		if err != nil {
			return "", fmt.Errorf("bind %s: %w", b.Path, err)
		}
		if err := mountAt(root, strings.TrimPrefix(filepath.Clean(b.Path), "/"), !st.IsDir(), func(target string) error {
			return syscall.Mount(b.Src, target, "", syscall.MS_BIND|syscall.MS_REC, "")
		}); err != nil {
			return "", fmt.Errorf("bind %s: %w", b.Path, err)
		}
	}
	return merged, nil
}

// mountAt makes rel inside root (a directory, or an empty file when file),
// then mounts on it through the descriptor of what it made: a link in the
// image cannot send the mount elsewhere, since the root refuses links that
// leave it and the descriptor names what the root resolved.
func mountAt(root *os.Root, rel string, file bool, mount func(target string) error) error {
	var f *os.File
	var err error
	if file {
		if err = root.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
			return err
		}
		f, err = root.OpenFile(rel, os.O_RDONLY|os.O_CREATE, 0o644)
	} else {
		if err = root.MkdirAll(rel, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		f, err = root.Open(rel)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return mount("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
}

// devices gives the image a /dev of its own with the host's harmless
// devices bound in, not the host's disks.
func devices(root *os.Root) error {
	if err := mountAt(root, "dev", false, func(target string) error {
		return syscall.Mount("tmpfs", target, "tmpfs", syscall.MS_NOSUID|syscall.MS_NOEXEC, "mode=755,size=65536k")
	}); err != nil {
		return err
	}
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		if _, err := os.Stat("/dev/" + d); err != nil {
			continue
		}
		if err := mountAt(root, "dev/"+d, true, func(target string) error {
			return syscall.Mount("/dev/"+d, target, "", syscall.MS_BIND, "")
		}); err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
	}
	if err := mountAt(root, "dev/shm", false, func(target string) error {
		return syscall.Mount("shm", target, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=1777,size=65536k")
	}); err != nil {
		return err
	}
	for link, target := range map[string]string{"dev/fd": "/proc/self/fd", "dev/stdin": "/proc/self/fd/0", "dev/stdout": "/proc/self/fd/1", "dev/stderr": "/proc/self/fd/2"} {
		_ = root.Symlink(target, link)
	}
	return nil
}

// lookPath finds name in path the way a shell does, inside the image.
func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: executable file not found in the image's $PATH (%s)", name, path)
}

// keptCapabilities are Docker's default capabilities but mknod: chown,
// dac_override, fowner, fsetid, kill, setgid, setuid, setpcap,
// net_bind_service, net_raw, sys_chroot, audit_write and setfcap. Others,
// sys_admin (mounts) and sys_ptrace among them, leave the bounding set, so
// the command cannot have them, whoever it runs as.
var keptCapabilities = map[int]bool{0: true, 1: true, 3: true, 4: true, 5: true, 6: true, 7: true, 8: true, 10: true, 13: true, 18: true, 29: true, 31: true}

// lastCapability bounds the capabilities tried; the kernel says EINVAL past
// its own last one.
const lastCapability = 63

func dropCapabilities() error {
	const prCapbsetDrop = 24
	for c := 0; c <= lastCapability; c++ {
		if keptCapabilities[c] {
			continue
		}
		if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prCapbsetDrop, uintptr(c), 0); errno != 0 && errno != syscall.EINVAL {
			return fmt.Errorf("drop capability %d: %v", c, errno)
		}
	}
	return nil
}

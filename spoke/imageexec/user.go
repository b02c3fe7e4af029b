package imageexec

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// User is who the command runs as.
type User struct {
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
	Home string `json:"home"`
}

func (u User) become() error {
	if err := syscall.Setgroups([]int{u.GID}); err != nil {
		return fmt.Errorf("set groups: %w", err)
	}
	if err := syscall.Setgid(u.GID); err != nil {
		return fmt.Errorf("set group %d: %w", u.GID, err)
	}
	if err := syscall.Setuid(u.UID); err != nil {
		return fmt.Errorf("set user %d: %w", u.UID, err)
	}
	return nil
}

// maxAccountFile bounds what is read of the image's /etc/passwd and /etc/group.
const maxAccountFile = 4 << 20

// LookupUser resolves an image's user, as the image's config or a task's
// run.user gives it ("name", "uid", "name:group", "uid:gid"; empty is root),
// through the image's own /etc/passwd and /etc/group, read inside rootfs.
func LookupUser(rootfs, spec string) (User, error) {
	if spec == "" {
		return User{UID: 0, GID: 0, Home: "/root"}, nil
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return User{}, err
	}
	defer root.Close()
	u := User{UID: -1, GID: -1, Home: "/"}
	if n, err := strconv.Atoi(name); err == nil {
		u.UID, u.GID = n, n
	}
	for _, f := range accounts(root, "etc/passwd") {
		// name:x:uid:gid:gecos:home:shell
		if len(f) < 7 || (f[0] != name && f[2] != name) {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			continue
		}
		u = User{UID: uid, GID: gid, Home: f[5]}
		break
	}
	if u.UID < 0 {
		return User{}, fmt.Errorf("user %q: not a number and not in the image's /etc/passwd", name)
	}
	if hasGroup {
		gid := -1
		if n, err := strconv.Atoi(group); err == nil {
			gid = n
		}
		for _, f := range accounts(root, "etc/group") {
			// name:x:gid:members
			if len(f) >= 3 && f[0] == group {
				if n, err := strconv.Atoi(f[2]); err == nil {
					gid = n
				}
				break
			}
		}
		if gid < 0 {
			return User{}, fmt.Errorf("group %q: not a number and not in the image's /etc/group", group)
		}
		u.GID = gid
	}
	if u.UID > 1<<31-2 || u.GID > 1<<31-2 {
		return User{}, fmt.Errorf("user %q: ids past 2147483646 are not users", spec)
	}
	return u, nil
}

// accounts reads the colon-separated lines of an account file in the image;
// a missing or unreadable one has none.
func accounts(root *os.Root, name string) [][]string {
	f, err := root.Open(name)
	if err != nil {
		return nil
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxAccountFile))
	if err != nil {
		return nil
	}
	var out [][]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, strings.Split(line, ":"))
		}
	}
	return out
}

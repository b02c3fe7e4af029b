// Package imageexectest builds small image root file systems for tests: a
// static probe program (./probe) at /bin/probe, with a passwd and a group file.
package imageexectest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Passwd and Group are the test image's accounts: root and builder (1000).
const (
	Passwd = "root:x:0:0:root:/root:/bin/probe\nbuilder:x:1000:1000::/home/builder:/bin/probe\n"
	Group  = "root:x:0:\nbuilders:x:1000:\nstaff:x:50:\n"
)

// Rootfs writes a test image's root file system under dir/rootfs and
// returns its path.
func Rootfs(t testing.TB, dir string) string {
	t.Helper()
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc", "tmp", "home/builder"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	Probe(t, filepath.Join(rootfs, "bin", "probe"))
	for name, data := range map[string]string{"etc/passwd": Passwd, "etc/group": Group} {
		if err := os.WriteFile(filepath.Join(rootfs, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return rootfs
}

// Probe builds the static probe program at path.
func Probe(t testing.TB, path string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "build", "-o", path, "./probe")
	cmd.Dir = filepath.Dir(file)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the probe: %v\n%s", err, out)
	}
}

// ResourceType writes an image artifact under dir (rootfs/ and
// metadata.json) whose /opt/resource/check, in and out are the probe as a
// resource type (probe/resource.go).
func ResourceType(t testing.TB, dir string) {
	t.Helper()
	rootfs := Rootfs(t, dir)
	if err := os.MkdirAll(filepath.Join(rootfs, "opt", "resource"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"check", "in", "out"} {
		if err := os.Link(filepath.Join(rootfs, "bin", "probe"), filepath.Join(rootfs, "opt", "resource", s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "metadata.json"), []byte(`{"env":["PATH=/bin"],"user":""}`), 0o644); err != nil {
		t.Fatal(err)
	}
}

package imageexec_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard-ci/switchyard/spoke/imageexec"
	"github.com/switchyard-ci/switchyard/spoke/imageexec/imageexectest"
)

func needRoot(t *testing.T) {
	if err := imageexec.Available(); err != nil {
		t.Skip(err)
	}
}

func run(t *testing.T, spec imageexec.Spec, env ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd, err := imageexec.Command(t.Context(), spec, env)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestRunInImage(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	rootfs := imageexectest.Rootfs(t, dir)
	step := filepath.Join(dir, "step")
	input := filepath.Join(dir, "artifact")
	for _, d := range []string{step, input} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(input, "hello"), []byte("from an input\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	builder, err := imageexec.LookupUser(rootfs, "builder:staff")
	if err != nil {
		t.Fatal(err)
	}
	if builder != (imageexec.User{UID: 1000, GID: 50, Home: "/home/builder"}) {
		t.Fatalf("builder:staff is %+v", builder)
	}
	if err := os.Chown(step, builder.UID, builder.GID); err != nil {
		t.Fatal(err)
	}
	spec := func(user imageexec.User, args ...string) imageexec.Spec {
		return imageexec.Spec{
			Rootfs: rootfs, Scratch: filepath.Join(dir, "scratch-"+args[0]), Dir: "/tmp/build/x", User: user,
			Binds: []imageexec.Bind{{Src: step, Path: "/tmp/build/x"}, {Src: input, Path: "/tmp/build/x/in"}},
			Path:  "probe", Args: args,
		}
	}
	env := []string{"PATH=/bin", "GREETING=hi"}

	out, errs, code := run(t, spec(builder, "id"), env...)
	if code != 0 || !strings.HasPrefix(out, "uid=1000 gid=50 pid=1 dir=/tmp/build/x") {
		t.Fatalf("id: exit %d, %q %q", code, out, errs)
	}
	if out, _, _ := run(t, spec(builder, "env", "GREETING"), env...); out != "GREETING=hi\n" {
		t.Fatalf("env: %q", out)
	}
	if out, errs, _ := run(t, spec(builder, "cat", "in/hello", "/etc/group"), env...); out != "from an input\n"+imageexectest.Group {
		t.Fatalf("cat: %q %q", out, errs)
	}
	// Writes to the step directory reach the host; writes elsewhere stay in
	// the step's scratch, not in the image.
	if _, errs, code := run(t, spec(builder, "write", "out.txt", "made inside"), env...); code != 0 {
		t.Fatalf("write: %d %s", code, errs)
	}
	if data, err := os.ReadFile(filepath.Join(step, "out.txt")); err != nil || string(data) != "made inside" {
		t.Fatalf("out.txt on the host: %q %v", data, err)
	}
	root := imageexec.User{Home: "/root"}
	if _, errs, code := run(t, spec(root, "write", "/etc/passwd", "changed"), env...); code != 0 {
		t.Fatalf("write /etc/passwd: %d %s", code, errs)
	}
	if data, _ := os.ReadFile(filepath.Join(rootfs, "etc/passwd")); string(data) != imageexectest.Passwd {
		t.Fatalf("the image's /etc/passwd changed: %q", data)
	}
	// The user cannot write where the image does not let it.
	if _, _, code := run(t, spec(builder, "write", "/etc/x", "no"), env...); code == 0 {
		t.Fatal("builder wrote /etc/x")
	}
	// Docker's default capabilities but mknod, unless privileged.
	if out, _, _ := run(t, spec(root, "caps"), env...); out != "00000000a00425fb\n" {
		t.Errorf("bounding set %q, want Docker's default less mknod", out)
	}
	privileged := spec(root, "caps")
	privileged.Privileged = true
	if out, _, _ := run(t, privileged, env...); out == "00000000a00425fb\n" || out == "" {
		t.Errorf("a privileged task's bounding set %q", out)
	}
	if _, _, code := run(t, spec(builder, "exit", "3"), env...); code != 3 {
		t.Fatalf("exit 3 gave %d", code)
	}
	if _, errs, code := run(t, spec(root, "id"), "PATH=/nowhere"); code != 127 || !strings.Contains(errs, "probe: executable file not found in the image's $PATH (/nowhere)") {
		t.Fatalf("no probe on PATH: %d %q", code, errs)
	}
}

// An image whose directories are links out of it: the mounts land inside
// the image or fail, and nothing is made on the host.
func TestHostileImage(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	rootfs := imageexectest.Rootfs(t, dir)
	outside := filepath.Join(dir, "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"tmp": outside, "proc": "../../../../../../" + outside, "dev": outside} {
		if err := os.RemoveAll(filepath.Join(rootfs, link)); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(rootfs, link)); err != nil {
			t.Fatal(err)
		}
	}
	step := t.TempDir()
	_, errs, code := run(t, imageexec.Spec{
		Rootfs: rootfs, Scratch: filepath.Join(dir, "scratch"), Dir: "/tmp/build/x",
		Binds: []imageexec.Bind{{Src: step, Path: "/tmp/build/x"}}, Path: "probe", Args: []string{"id"},
	}, "PATH=/bin")
	if code != 127 || !strings.Contains(errs, "image: mount /proc") {
		t.Fatalf("links out of the image: exit %d, %q", code, errs)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("mounting made %v outside the image", entries)
	}

	if _, err := imageexec.LookupUser(rootfs, "nobody"); err == nil || !strings.Contains(err.Error(), `user "nobody": not a number and not in the image's /etc/passwd`) {
		t.Fatalf("unknown user: %v", err)
	}
	if _, err := imageexec.LookupUser(rootfs, "builder:wheel"); err == nil || !strings.Contains(err.Error(), `group "wheel"`) {
		t.Fatalf("unknown group: %v", err)
	}
	if _, err := imageexec.Command(t.Context(), imageexec.Spec{Rootfs: dir + "/a,upperdir=/", Scratch: dir, Dir: "/", Path: "x"}, nil); err == nil {
		t.Fatal("an overlay option in a path was accepted")
	}
}

package volumes

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"

	"github.com/switchyard-ci/switchyard/volumes/extract"
)

// tree describes a directory: path -> "dir MODE", "file MODE CONTENT" or "link TARGET".
func describe(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "link " + target
		case info.IsDir():
			out[rel] = "dir " + info.Mode().Perm().String()
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if len(data) > 64 {
				data = []byte(info.ModTime().Truncate(time.Second).UTC().Format(time.RFC3339) + " " + string(rune(len(data))))
			}
			out[rel] = "file " + info.Mode().Perm().String() + " " + string(data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPackUnpackRoundTrip(t *testing.T) {
	src := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "bin"), 0o755))
	must(os.WriteFile(filepath.Join(src, "bin", "run"), []byte("#!/bin/sh\necho hi\n"), 0o755))
	must(os.WriteFile(filepath.Join(src, "secret"), []byte("only me"), 0o600))
	must(os.MkdirAll(filepath.Join(src, "empty", "deeper"), 0o755))
	must(os.Mkdir(filepath.Join(src, "readonly"), 0o755))
	must(os.WriteFile(filepath.Join(src, "readonly", "f"), []byte("x"), 0o444))
	must(os.Chmod(filepath.Join(src, "readonly"), 0o555))
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(src, "readonly"), 0o755) })
	must(os.Symlink("bin/run", filepath.Join(src, "run")))
	must(os.Symlink("../secret", filepath.Join(src, "bin", "up")))
	// A large sparse-ish file: 64 MiB with a few bytes at each end.
	f, err := os.Create(filepath.Join(src, "disk.img"))
	must(err)
	_, err = f.WriteString("head")
	must(err)
	_, err = f.WriteAt([]byte("tail"), 64<<20-4)
	must(err)
	must(f.Close())
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	must(os.Chtimes(filepath.Join(src, "secret"), old, old))

	var buf bytes.Buffer
	d, n, err := Pack(context.Background(), src, &buf)
	must(err)
	if n != int64(buf.Len()) {
		t.Fatalf("Pack reported %d bytes, wrote %d", n, buf.Len())
	}
	if n > 1<<20 {
		t.Errorf("a 64 MiB file of zeros packed to %d bytes", n)
	}
	var again bytes.Buffer
	d2, _, err := Pack(context.Background(), src, &again)
	must(err)
	if d != d2 {
		t.Errorf("the same tree packed to %s and %s", d, d2)
	}

	dst := filepath.Join(t.TempDir(), "out")
	must(extract.Unpack(context.Background(), bytes.NewReader(buf.Bytes()), dst, extract.Bounds{}))
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(dst, "readonly"), 0o755) })
	if diff := cmp.Diff(describe(t, src), describe(t, dst)); diff != "" {
		t.Errorf("unpacked tree differs (-packed +unpacked):\n%s", diff)
	}
	st, err := os.Stat(filepath.Join(dst, "secret"))
	must(err)
	if !st.ModTime().Equal(old) {
		t.Errorf("mtime %v, want %v", st.ModTime(), old)
	}
	img, err := os.ReadFile(filepath.Join(dst, "disk.img"))
	must(err)
	if len(img) != 64<<20 || string(img[:4]) != "head" || string(img[len(img)-4:]) != "tail" {
		t.Errorf("disk.img came back as %d bytes", len(img))
	}
	var sys syscall.Stat_t
	must(syscall.Stat(filepath.Join(dst, "disk.img"), &sys))
	if sys.Blocks*512 > 8<<20 {
		t.Errorf("disk.img takes %d bytes on disk: its holes were filled", sys.Blocks*512)
	}
}

func TestPackRefuses(t *testing.T) {
	for name, setup := range map[string]func(dir string) error{
		"absolute link": func(dir string) error { return os.Symlink("/etc/passwd", filepath.Join(dir, "pw")) },
		"link out":      func(dir string) error { return os.Symlink("../../x", filepath.Join(dir, "up")) },
		"named pipe":    func(dir string) error { return syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := setup(dir); err != nil {
				t.Fatal(err)
			}
			_, _, err := Pack(context.Background(), dir, io.Discard)
			if err == nil {
				t.Fatal("packed")
			}
			t.Log(err)
		})
	}
}

// archive builds a tar.zst from entries.
func archive(t *testing.T, entries ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, h := range entries {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write(bytes.Repeat([]byte("x"), int(h.Size))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestUnpackRefusesEscapes(t *testing.T) {
	file := func(name string) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: 1}
	}
	link := func(name, target string) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}
	}
	for name, entries := range map[string][]*tar.Header{
		"dot-dot":             {file("../escaped")},
		"nested dot-dot":      {file("a/../../escaped")},
		"absolute":            {file("/tmp/escaped")},
		"absolute link":       {link("pw", "/etc/passwd")},
		"link out":            {link("up", "../..")},
		"write through link":  {link("d/l", "../x"), {Name: "x/", Typeflag: tar.TypeDir, Mode: 0o755}, link("m", "d/l/../.."), file("m/escaped")},
		"hard link out":       {{Name: "h", Typeflag: tar.TypeLink, Linkname: "../outside"}},
		"link chain":          {{Name: "a/", Typeflag: tar.TypeDir, Mode: 0o755}, link("a/up", ".."), link("a/up/up2", "..")},
		"link through a link": {link("y", "."), link("x", "y/../escaped")},
		"link loop":           {link("l1", "l2"), link("l2", "l1"), link("out", "l1/../..")},
		"device":              {{Name: "dev", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666}},
		"fifo":                {{Name: "p", Typeflag: tar.TypeFifo, Mode: 0o666}},
	} {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			dst := filepath.Join(parent, "root")
			err := extract.Unpack(context.Background(), bytes.NewReader(archive(t, entries...)), dst, extract.Bounds{})
			if err == nil {
				t.Fatal("extracted")
			}
			if _, statErr := os.Lstat(filepath.Join(parent, "escaped")); statErr == nil {
				t.Fatal("a file was written outside the root")
			}
			var unsafe *extract.UnsafeEntryError
			if !errors.As(err, &unsafe) && !strings.Contains(err.Error(), "escapes") && !strings.Contains(err.Error(), "outside") {
				t.Fatalf("error %q does not say the entry escapes", err)
			}
			t.Log(err)
		})
	}
}

func TestUnpackRefusesTruncated(t *testing.T) {
	data := archive(t, &tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 20})
	err := extract.Unpack(context.Background(), bytes.NewReader(data[:len(data)/2]), t.TempDir(), extract.Bounds{})
	if err == nil {
		t.Fatal("a truncated archive was extracted")
	}
}

func TestDigest(t *testing.T) {
	if _, err := ParseDigest("sha256:" + strings.Repeat("a", 64)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "sha256:abc", "md5:" + strings.Repeat("a", 64), "sha256:" + strings.Repeat("A", 64), "sha256:" + strings.Repeat("g", 64)} {
		if _, err := ParseDigest(bad); err == nil {
			t.Errorf("ParseDigest(%q) accepted it", bad)
		}
	}
	d := Digest("sha256:" + strings.Repeat("b", 64))
	team, back, err := ParseKey(Key(7, d))
	if err != nil || team != 7 || back != d {
		t.Fatalf("ParseKey(Key(7, d)) = %d, %s, %v", team, back, err)
	}
}

// PackSome packs what keep keeps; a directory it refuses is not even read
// (here one holding a named pipe, which Pack refuses).
func TestPackSome(t *testing.T) {
	ctx := t.Context()
	src, dst := t.TempDir(), t.TempDir()
	for _, d := range []string{"a", "b"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"a/x", "a/y", "c"} {
		if err := os.WriteFile(filepath.Join(src, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(src, "b", "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	keep := func(rel string, d fs.DirEntry) bool { return rel == "a" || rel == "a/x" }
	var buf bytes.Buffer
	if _, _, err := PackSome(ctx, src, keep, &buf); err != nil {
		t.Fatal(err)
	}
	if err := extract.Unpack(ctx, &buf, dst, extract.Bounds{}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "dir -rwxr-xr-x", "a/x": "file -rw-r--r-- a/x"}
	if diff := cmp.Diff(want, describe(t, dst)); diff != "" {
		t.Errorf("unpacked (-want +got):\n%s", diff)
	}
}

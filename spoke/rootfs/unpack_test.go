package rootfs

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/switchyard-ci/switchyard/volumes/extract"
)

// entry is one tar entry of a test layer.
type entry struct {
	name, body, link string
	typ              byte
	mode             int64
	size             int64 // the header's size when it must lie about body
}

func layer(t *testing.T, entries ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Size: int64(len(e.body)), Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if e.size != 0 {
			h.Size = e.size
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg && e.size == 0 {
			if _, err := io.WriteString(tw, e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	_ = tw.Flush() // no Close, and a lying size's error ignored: the header is written

	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func image(t *testing.T, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestUnpackAppliesLayersAndWhiteouts(t *testing.T) {
	dir := t.TempDir()
	img := image(t,
		layer(t,
			entry{name: "bin/", typ: tar.TypeDir, mode: 0o755},
			entry{name: "bin/busybox", body: "#!/bin/sh\n", mode: 0o4755},
			entry{name: "bin/sh", typ: tar.TypeSymlink, link: "/bin/busybox"},
			entry{name: "bin/ls", typ: tar.TypeLink, link: "bin/busybox"},
			entry{name: "etc/passwd", body: "root:x:0:0\n"},
			entry{name: "etc/old", body: "old"},
			entry{name: "var/cache/a", body: "a"},
			entry{name: "var/cache/b", body: "b"},
			entry{name: "dev/null", typ: tar.TypeChar},
		),
		layer(t,
			entry{name: "etc/.wh.old"},
			entry{name: "var/cache/c", body: "c"},
			entry{name: "var/cache/.wh..wh..opq"},
			entry{name: "etc/passwd", body: "root:x:0:0:new\n"},
		),
	)
	st, err := Unpack(t.Context(), img, dir, extract.Bounds{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Layers != 2 || st.Skipped != 1 {
		t.Errorf("stats %+v: want 2 layers and the device skipped", st)
	}
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(b)
	}
	if got := read("etc/passwd"); got != "root:x:0:0:new\n" {
		t.Errorf("etc/passwd = %q: the upper layer wins", got)
	}
	if _, err := os.Lstat(filepath.Join(dir, "etc/old")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("etc/old survived its whiteout: %v", err)
	}
	for p, want := range map[string]bool{"var/cache/a": false, "var/cache/b": false, "var/cache/c": true} {
		_, err := os.Lstat(filepath.Join(dir, p))
		if (err == nil) != want {
			t.Errorf("%s exists=%v after the opaque marker, want %v", p, err == nil, want)
		}
	}
	if target, err := os.Readlink(filepath.Join(dir, "bin/sh")); err != nil || target != "/bin/busybox" {
		t.Errorf("bin/sh -> %q (%v): absolute links are kept as the image has them", target, err)
	}
	if got := read("bin/ls"); got != "#!/bin/sh\n" {
		t.Errorf("bin/ls = %q, want the hard link's target", got)
	}
	fi, err := os.Stat(filepath.Join(dir, "bin/busybox"))
	if err != nil || fi.Mode()&os.ModeSetuid != 0 || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/busybox mode %v (%v): want 0755 with setuid dropped", fi.Mode(), err)
	}
}

func TestUnpackRefusesHostileLayers(t *testing.T) {
	cases := []struct {
		name    string
		entries []entry
		want    string
	}{
		{"dot-dot name", []entry{{name: "../escape", body: "x"}}, "outside the image's root"},
		{"absolute name", []entry{{name: "/etc/escape", body: "x"}}, "outside the image's root"},
		{"hard link out", []entry{{name: "x", typ: tar.TypeLink, link: "../../etc/passwd"}}, "links outside"},
		{"whiteout of the parent", []entry{{name: "a/.wh.."}}, "whiteout must name"},
		{"whiteout of dot-dot through the name", []entry{{name: "a/../../.wh.victim"}}, "outside the image's root"},
		{"write through an absolute link", []entry{{name: "etc", typ: tar.TypeSymlink, link: "/etc"}, {name: "etc/escape", body: "x"}}, "escapes"},
		{"write through a relative link out", []entry{{name: "up", typ: tar.TypeSymlink, link: "../.."}, {name: "up/escape", body: "x"}}, "escapes"},
		{"10 GB header", []entry{{name: "big", size: 10 << 30}}, "expands past its bound"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "rootfs")
			victim := filepath.Join(parent, "victim")
			if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Unpack(t.Context(), image(t, layer(t, c.entries...)), dir, extract.Bounds{MaxBytes: 1 << 30})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one saying %q", err, c.want)
			}
			if b, err := os.ReadFile(victim); err != nil || string(b) != "keep" {
				t.Errorf("the file beside the root changed: %q %v", b, err)
			}
			if _, err := os.Lstat(filepath.Join(parent, "escape")); err == nil {
				t.Error("an entry was written outside the root")
			}
		})
	}
}

func TestUnpackBoundsEntries(t *testing.T) {
	img := image(t, layer(t, entry{name: "a", body: "1"}, entry{name: "b", body: "2"}, entry{name: "c", body: "3"}))
	_, err := Unpack(t.Context(), img, t.TempDir(), extract.Bounds{MaxEntries: 2})
	if !errors.Is(err, extract.ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge past 2 entries", err)
	}
}

package extract

import (
	"archive/tar"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzExtract feeds arbitrary tar streams (seeded with links, chains of
// links, hard links, escapes and a sparse entry) to the extractor. Property:
// whatever it returns, nothing is written outside the root, no link in the
// root resolves outside it, and the files' sizes stay within the bound.
func FuzzExtract(f *testing.F) {
	link := func(name, target string) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}
	}
	dir := func(name string) *tar.Header { return &tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755} }
	file := func(name string, size int64) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size}
	}
	for _, entries := range [][]*tar.Header{
		{dir("a/"), link("a/up", ".."), link("a/up/up2", "..")},
		{link("y", "."), link("x", "y/../escaped")},
		{link("d/l", "../x"), dir("x/"), link("m", "d/l/../.."), file("m/escaped", 1)},
		{file("f", 10), {Name: "h", Typeflag: tar.TypeLink, Linkname: "f"}, file("g", 100)},
		{dir("a/b/"), link("a/b/c", "../../a"), link("a/d", "b/c/b/c/.."), file("a/d/z", 3)},
	} {
		f.Add(rawArchive(f, entries...))
	}
	f.Add(sparseArchive(f, "21474836480"))
	const bound = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		root := filepath.Join(parent, "root")
		_ = ExtractTar(context.Background(), bytes.NewReader(data), root, Bounds{MaxBytes: bound, MaxEntries: 200})
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Name() != "root" {
				t.Fatalf("%s was written outside the root", e.Name())
			}
		}
		var total int64
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			info, err := os.Lstat(p)
			if err != nil {
				return nil
			}
			switch {
			case info.Mode().IsRegular():
				total += info.Size()
			case info.Mode()&fs.ModeSymlink != 0:
				target, _ := os.Readlink(p)
				resolved, err := filepath.EvalSymlinks(p)
				if err != nil { // dangling or a loop: judge the target as written
					resolved = filepath.Join(filepath.Dir(p), target)
				}
				if rel, err := filepath.Rel(root, resolved); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
					t.Fatalf("link %s (to %s) resolves outside the root: %s", p, target, resolved)
				}
			}
			return nil
		})
		if total > bound {
			t.Fatalf("files hold %d bytes, over the bound of %d", total, bound)
		}
	})
}

// rawArchive is an uncompressed tar stream of entries, files filled with x.
func rawArchive(t testing.TB, entries ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg && h.Size > 0 {
			if _, err := tw.Write(bytes.Repeat([]byte("x"), int(h.Size))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

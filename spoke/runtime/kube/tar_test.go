package kube

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"
)

// Output tars that try to leave their output directory are refused.
func TestReadTarRefusesEscapes(t *testing.T) {
	for name, hdr := range map[string]tar.Header{
		"dot-dot":          {Name: "out/../../evil", Typeflag: tar.TypeReg, Mode: 0o644},
		"absolute":         {Name: "/etc/evil", Typeflag: tar.TypeReg, Mode: 0o644},
		"absolute link":    {Name: "out/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"},
		"climbing link":    {Name: "out/link", Typeflag: tar.TypeSymlink, Linkname: "../../x"},
		"device":           {Name: "out/dev", Typeflag: tar.TypeChar},
		"not under output": {Name: "other/file", Typeflag: tar.TypeReg, Mode: 0o644},
	} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		_ = tw.Close()
		dir := t.TempDir()
		err := readTar(&buf, map[string]string{"out": dir})
		if err == nil || !strings.Contains(err.Error(), hdr.Name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

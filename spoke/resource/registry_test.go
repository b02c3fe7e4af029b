package resource

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/switchyard-ci/switchyard/spoke/resource/registrytest"
)

// testImage is a one-layer image holding the files given, with an env, a
// user and a label.
func testImage(t *testing.T, files map[string]string) v1.Image {
	return registrytest.Image(t, files, func(cfg *v1.ConfigFile) {
		cfg.OS, cfg.Architecture = "linux", "amd64"
		cfg.Config.Env = []string{"PATH=/bin", "GREETING=hello"}
		cfg.Config.User = "1000"
		cfg.Config.Labels = map[string]string{"org.example.team": "ci"}
	})
}

// imagePutDir writes img as a tarball at img/image.tar of a new put directory,
// with extra files beside it.
func imagePutDir(t *testing.T, img v1.Image, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "img"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(filepath.Join(dir, "img/image.tar"), nil, img); err != nil {
		t.Fatal(err)
	}
	for name, body := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func regSource(t *testing.T, reg registrytest.Registry, repo string, extra map[string]any) json.RawMessage {
	t.Helper()
	src := map[string]any{"repository": reg.Host + "/" + repo}
	if reg.Username != "" {
		src["username"], src["password"] = reg.Username, reg.Password
	}
	if reg.CACert != "" {
		src["ca_certs"] = []string{reg.CACert}
	} else {
		src["insecure"] = true
	}
	for k, v := range extra {
		src[k] = v
	}
	b, err := json.Marshal(src)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tagsOf(vs []map[string]string) string {
	var out []string
	for _, v := range vs {
		out = append(out, v["tag"])
	}
	return strings.Join(out, " ")
}

func TestRegistryImage(t *testing.T) {
	for _, o := range []registrytest.Options{{}, {Auth: true, TLS: true}} {
		name := "plain"
		if o.Auth {
			name = "basic auth and TLS"
		}
		t.Run(name, func(t *testing.T) {
			reg := registrytest.Start(t, o)
			ctx, ri, log := t.Context(), RegistryImage{}, io.Discard
			src := regSource(t, reg, "team/app", nil)

			// Put 1.2.3 with its aliases and an additional tag.
			img1 := testImage(t, map[string]string{"bin/app": "one", "etc/motd": "hi"})
			dir := imagePutDir(t, img1, map[string]string{"tags": "sha-abc\n"})
			resp, err := ri.Out(ctx, src, json.RawMessage(`{"image":"img/*.tar","version":"1.2.3","bump_aliases":true,"additional_tags":"tags","tag_prefix":"build-"}`), dir, log)
			if err != nil {
				t.Fatal(err)
			}
			d1, _ := img1.Digest()
			if resp.Version["tag"] != "1.2.3" || resp.Version["digest"] != d1.String() {
				t.Fatalf("put version %v, want tag 1.2.3 and %s", resp.Version, d1)
			}
			if tags := resp.Metadata[1].Value; tags != "1.2.3 1.2 1 latest build-sha-abc" {
				t.Errorf("pushed tags %q", tags)
			}
			// A newer 1.3.0 moves 1 and latest, not 1.2.
			img2 := testImage(t, map[string]string{"bin/app": "two"})
			if _, err := ri.Out(ctx, src, json.RawMessage(`{"image":"img/image.tar","version":"1.3.0","bump_aliases":true}`), imagePutDir(t, img2, nil), log); err != nil {
				t.Fatal(err)
			}
			d2, _ := img2.Digest()

			versions, err := ri.Check(ctx, src, nil, log)
			if err != nil {
				t.Fatal(err)
			}
			if got := tagsOf(versions); got != "1.2.3 1.3.0" {
				t.Errorf("semver check = %q, want each digest once with its most specific tag", got)
			}
			if versions, err = ri.Check(ctx, src, versions[1], log); err != nil || tagsOf(versions) != "1.3.0" {
				t.Errorf("check from 1.3.0 = %v, %v", versions, err)
			}
			latest, err := ri.Check(ctx, regSource(t, reg, "team/app", map[string]any{"tag": "latest"}), nil, log)
			if err != nil || len(latest) != 1 || latest[0]["digest"] != d2.String() {
				t.Errorf("tag check = %v, %v; want latest at %s", latest, err, d2)
			}
			byRegex, err := ri.Check(ctx, regSource(t, reg, "team/app", map[string]any{"tag_regex": `1\.2.*`}), nil, log)
			if err != nil || tagsOf(byRegex) != "1.2 1.2.3" && tagsOf(byRegex) != "1.2.3 1.2" {
				t.Errorf("tag_regex check = %q, %v", tagsOf(byRegex), err)
			}
			constrained, err := ri.Check(ctx, regSource(t, reg, "team/app", map[string]any{"semver_constraint": ">= 1.1, < 1.3"}), nil, log)
			if err != nil || tagsOf(constrained) != "1.2.3" {
				t.Errorf("semver_constraint check = %q, %v", tagsOf(constrained), err)
			}

			// Get as a rootfs.
			dest := t.TempDir()
			v := map[string]string{"tag": "1.2.3", "digest": d1.String()}
			if _, err := ri.In(ctx, src, nil, v, dest, log); err != nil {
				t.Fatal(err)
			}
			for file, want := range map[string]string{"rootfs/bin/app": "one", "rootfs/etc/motd": "hi", "digest": d1.String(), "tag": "1.2.3", "repository": reg.Host + "/team/app", "labels.json": `{"org.example.team":"ci"}`} {
				if b, err := os.ReadFile(filepath.Join(dest, file)); err != nil || string(b) != want {
					t.Errorf("%s = %q (%v), want %q", file, b, err, want)
				}
			}
			var meta struct {
				Env  []string `json:"env"`
				User string   `json:"user"`
			}
			if b, err := os.ReadFile(filepath.Join(dest, "metadata.json")); err != nil || json.Unmarshal(b, &meta) != nil || meta.User != "1000" || len(meta.Env) != 2 {
				t.Errorf("metadata.json = %+v (%v)", meta, err)
			}

			// Get as a tarball and as an OCI layout: the same image.
			dest = t.TempDir()
			if _, err := ri.In(ctx, src, json.RawMessage(`{"format":"oci"}`), v, dest, log); err != nil {
				t.Fatal(err)
			}
			back, err := tarball.ImageFromPath(filepath.Join(dest, "image.tar"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if d, _ := back.Digest(); d != d1 {
				t.Errorf("image.tar holds %s, want %s", d, d1)
			}
			dest = t.TempDir()
			if _, err := ri.In(ctx, src, json.RawMessage(`{"format":"oci-layout"}`), v, dest, log); err != nil {
				t.Fatal(err)
			}
			if _, err := layout.ImageIndexFromPath(filepath.Join(dest, "oci")); err != nil {
				t.Errorf("oci/ is not an OCI layout: %v", err)
			}

			if o.Auth {
				bad := regSource(t, reg, "team/app", map[string]any{"password": "wrong"})
				if _, err := ri.Check(ctx, bad, nil, log); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
					t.Errorf("a wrong password: %v", err)
				}
				noCA := regSource(t, reg, "team/app", map[string]any{"ca_certs": nil})
				if _, err := ri.Check(ctx, noCA, nil, log); err == nil || !strings.Contains(err.Error(), "certificate") {
					t.Errorf("an unknown certificate authority: %v", err)
				}
			}
		})
	}
}

func TestRegistryImageRefusals(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ctx, ri, log := t.Context(), RegistryImage{}, io.Discard
	src := regSource(t, reg, "team/app", nil)
	img := testImage(t, map[string]string{"a": "b"})

	outside := filepath.Join(t.TempDir(), "secret.tar")
	if err := tarball.WriteToFile(outside, nil, img); err != nil {
		t.Fatal(err)
	}
	linked := imagePutDir(t, img, nil)
	if err := os.Symlink(outside, filepath.Join(linked, "img/link.tar")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, params, want string
		dir                string
	}{
		{"no tag", `{"image":"img/image.tar"}`, "no tag specified - need either 'version:' in params or 'tag:' in source", ""},
		{"image outside", `{"image":"../x.tar","version":"1.0.0"}`, "inside the put's directory", ""},
		{"image through a link out", `{"image":"img/link.tar","version":"1.0.0"}`, "img/link.tar", linked},
		{"tags file through a link out", `{"image":"img/image.tar","additional_tags":"img/link.tar"}`, "additional_tags", linked},
		{"bad tag", `{"image":"img/image.tar","version":"1.0.0","additional_tags":"tags"}`, `tag "a/b"`, ""},
		{"not semver", `{"image":"img/image.tar","version":"one"}`, "not a semantic version", ""},
		{"not a tarball", `{"image":"tags","version":"1.0.0"}`, "not an image tarball", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := c.dir
			if dir == "" {
				dir = imagePutDir(t, img, map[string]string{"tags": "ok a/b"})
			}
			_, err := ri.Out(ctx, src, json.RawMessage(c.params), dir, log)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one saying %q", err, c.want)
			}
		})
	}
	if tags, err := remote.List(mustRepo(t, reg.Host+"/team/app"), remote.WithContext(ctx)); err == nil && len(tags) > 0 {
		t.Errorf("refused puts pushed tags %v", tags)
	}

	// Indexes nested past the bound are refused, not followed.
	var idx v1.ImageIndex = mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	for range maxIndexDepth {
		idx = mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), mutate.IndexAddendum{Add: idx, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	}
	ref := mustRepo(t, reg.Host+"/team/nested").Tag("deep")
	if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	nested := regSource(t, reg, "team/nested", map[string]any{"platform": map[string]string{"os": "linux", "architecture": "amd64"}})
	if _, err := ri.In(ctx, nested, nil, map[string]string{"tag": "deep", "digest": d.String()}, t.TempDir(), log); err == nil || !strings.Contains(err.Error(), "nest deeper") {
		t.Errorf("a deep index: %v", err)
	}

	// Sources that cannot work say which field and why.
	for raw, want := range map[string]string{
		`{}`: "repository is required",
		`{"repository":"x","aws_region":"eu-west-1"}`: "ECR",
		`{"repository":"x","tag_regex":"("}`:          "invalid tag_regex",
		`{"repository":"UPPER/case"}`:                 "repository",
		`{"repository":"x","ca_certs":["not pem"]}`:   "ca_certs[0]",
	} {
		if _, err := ri.Check(ctx, json.RawMessage(raw), nil, log); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", raw, err, want)
		}
	}

	// A registry that is down errors with the repository's name.
	down := json.RawMessage(`{"repository":"127.0.0.1:1/team/app","tag":"x","insecure":true}`)
	if _, err := ri.Check(ctx, down, nil, log); err == nil || !strings.Contains(err.Error(), "team/app") {
		t.Errorf("a registry that is down: %v", err)
	}

	// A registry that answers garbage errors with the repository's name.
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("\x00garbage")) }))
	defer garbage.Close()
	src = json.RawMessage(`{"repository":"` + strings.TrimPrefix(garbage.URL, "http://") + `/team/app","tag":"x","insecure":true}`)
	if _, err := ri.Check(ctx, src, nil, log); err == nil || !strings.Contains(err.Error(), "team/app") {
		t.Errorf("a garbage registry: %v", err)
	}
}

func mustRepo(t testing.TB, s string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/spoke/imageexec"
	"github.com/switchyard-ci/switchyard/wire"
)

// A task with an image runs inside the image's root file system (package
// imageexec): its step directory and inputs are bound in at a working
// directory like Concourse's /tmp/build/<id>, not linked, since links to the
// spoke's disk mean nothing inside the image.

// maxImageMetadata bounds what is read of an image's metadata.json.
const maxImageMetadata = 1 << 20

// defaultPath is the PATH of an image whose config sets none, as Docker's.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// taskImage is a task's image on the spoke and what runs in it.
type taskImage struct {
	artifact string
	spec     imageexec.Spec
	env      []string // the image's config env, KEY=value
}

// ImageMetadata is what a registry-image get writes to metadata.json.
type ImageMetadata struct {
	Env  []string `json:"env"`
	User string   `json:"user"`
}

// openImage reads the task's image from the build artifact that holds it.
func (rt *Runtime) openImage(a wire.Assignment, cfg *pipeline.TaskConfig, st *step) (*taskImage, error) {
	return rt.openImageArtifact(a.BuildID, a.Request.Task.Image, cfg.Run.User, cfg.Run.Dir, a.Request.Task.Privileged, st)
}

// openImageArtifact reads an image from the build artifact name, to run a
// command in as userSpec (or the image's user) from dir, relative to the
// step's directory inside the image.
func (rt *Runtime) openImageArtifact(buildID int64, name, userSpec, dir string, privileged bool, st *step) (*taskImage, error) {
	if err := imageexec.Available(); err != nil {
		return nil, fmt.Errorf("image %s: %w", name, err)
	}
	if err := pipeline.CheckName(name); err != nil {
		return nil, fmt.Errorf("image artifact %w", err)
	}
	artifact := rt.Artifact(buildID, name)
	root, err := os.OpenRoot(artifact)
	if err != nil {
		return nil, fmt.Errorf("image %s: the build has no such artifact: %w", name, err)
	}
	defer root.Close()
	if fi, err := root.Lstat("rootfs"); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("image %s has no rootfs/ directory: give the task an artifact from a registry-image get (format: rootfs, the default)", name)
	}
	// Concourse's words for a missing or bad metadata.json.
	var meta ImageMetadata
	f, err := root.Open("metadata.json")
	if err != nil {
		return nil, fmt.Errorf("image %s: stream image metadata file: %w. Is the image in rootfs format?", name, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxImageMetadata+1))
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("image %s: stream image metadata file: %w", name, err)
	}
	if len(data) > maxImageMetadata {
		return nil, fmt.Errorf("image %s: metadata.json is over %d bytes", name, maxImageMetadata)
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return nil, fmt.Errorf("image %s: malformed image metadata: %w", name, err)
	}
	if userSpec == "" {
		userSpec = meta.User
	}
	rootfs := filepath.Join(artifact, "rootfs")
	user, err := imageexec.LookupUser(rootfs, userSpec)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", name, err)
	}
	sum := sha256.Sum256([]byte(st.rel))
	work := "/tmp/build/" + hex.EncodeToString(sum[:4])
	img := &taskImage{artifact: name, env: meta.Env, spec: imageexec.Spec{
		Rootfs: rootfs, Scratch: st.dir + ".image", Dir: path.Join(work, relPath(dir, ".")), User: user, Privileged: privileged,
		Binds: []imageexec.Bind{{Src: st.dir, Path: work}},
	}}
	return img, nil
}

// bind puts the host's src at dst, relative to the working directory, as
// link does with links.
func (img *taskImage) bind(st *step, src, dst string) error {
	pairs, err := placements(st.root, src, dst)
	if err != nil {
		return err
	}
	work := img.spec.Binds[0].Path
	for _, p := range pairs {
		img.spec.Binds = append(img.spec.Binds, imageexec.Bind{Src: p[0], Path: path.Join(work, p[1])})
	}
	return nil
}

// own gives the image's user the step's directory and the directories the
// task writes to (host paths), as Concourse does for a task that runs as
// another user.
func (img *taskImage) own(st *step, writable []string) error {
	u := img.spec.User
	if u.UID == 0 && u.GID == 0 {
		return nil
	}
	for _, p := range append([]string{st.dir}, writable...) {
		if err := os.Chown(p, u.UID, u.GID); err != nil {
			return fmt.Errorf("give the image's user %d its directories: %w", u.UID, err)
		}
	}
	return nil
}

// environment is the image's env, then the task's params and the step's
// (each wins over what comes before), with a PATH and a HOME.
func (img *taskImage) environment(cfg *pipeline.TaskConfig, params map[string]string) []string {
	return taskEnv(append([]string{"PATH=" + defaultPath, "HOME=" + img.spec.User.Home}, img.env...), cfg, params)
}

// command runs the task's run.path inside the image: a relative path with a
// slash from the working directory, a bare name from the image's PATH.
func (img *taskImage) command(ctx context.Context, cfg *pipeline.TaskConfig, params map[string]string) (*exec.Cmd, error) {
	spec := img.spec
	spec.Path, spec.Args = cfg.Run.Path, cfg.Run.Args
	if strings.Contains(spec.Path, "/") && !path.IsAbs(spec.Path) {
		spec.Path = path.Join(spec.Dir, spec.Path)
	}
	return imageexec.Command(ctx, spec, img.environment(cfg, params))
}

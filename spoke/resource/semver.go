package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Semver is Concourse's semver resource: one version number kept in a
// store (driver s3: an object; driver git: a file on a branch), bumped as
// upstream bumps it. Check reports the stored number, or initial_version
// while the store is empty; get writes it (bumped locally by its params,
// nothing stored); put stores a number from a file, or the stored one
// bumped.
type Semver struct {
	// AllowLocal lets a git driver's uri be a path on the spoke (tests).
	AllowLocal bool
}

type semverSource struct {
	Driver         string `json:"driver"`
	InitialVersion string `json:"initial_version"`
	// s3
	Bucket              string `json:"bucket"`
	Key                 string `json:"key"`
	AccessKeyID         string `json:"access_key_id"`
	SecretAccessKey     string `json:"secret_access_key"`
	SessionToken        string `json:"session_token"`
	Region              string `json:"region_name"`
	Endpoint            string `json:"endpoint"`
	DisableSSL          bool   `json:"disable_ssl"`
	SkipSSLVerification bool   `json:"skip_ssl_verification"`
	// git
	URI                  string           `json:"uri"`
	Branch               string           `json:"branch"`
	File                 string           `json:"file"`
	PrivateKey           string           `json:"private_key"`
	PrivateKeyUser       string           `json:"private_key_user"`
	PrivateKeyPassphrase string           `json:"private_key_passphrase"`
	GitUser              string           `json:"git_user"`
	CommitMessage        string           `json:"commit_message"`
	GitConfig            []gitConfigEntry `json:"git_config"`
}

type semverParams struct {
	File                string `json:"file"`
	Bump                string `json:"bump"`
	Pre                 string `json:"pre"`
	PreWithoutVersion   bool   `json:"pre_without_version"`
	Build               string `json:"build"`
	BuildWithoutVersion bool   `json:"build_without_version"`
	GetLatest           bool   `json:"get_latest"`
}

// semverStore is where a driver keeps the number: "" when it holds none.
type semverStore interface {
	read(ctx context.Context) (string, error)
	// write stores next, made from the stored number by next (compare and
	// swap where the driver can).
	write(ctx context.Context, next func(current string) (string, error), log io.Writer) (string, error)
}

func (r Semver) open(raw json.RawMessage) (semverSource, semverStore, error) {
	var s semverSource
	if err := decodeStrict(raw, &s); err != nil {
		return s, nil, fmt.Errorf("%w (the semver resource's drivers here are s3 and git)", err)
	}
	if s.InitialVersion != "" {
		if _, err := semver.StrictNewVersion(s.InitialVersion); err != nil {
			return s, nil, fmt.Errorf("source.initial_version %q: %v", s.InitialVersion, err)
		}
	}
	switch s.Driver {
	case "", "s3":
		st, err := newSemverS3(s)
		return s, st, err
	case "git":
		st, err := r.newSemverGit(s)
		return s, st, err
	case "swift", "gcs":
		return s, nil, fmt.Errorf("source.driver %q is not supported by Switchyard's semver resource yet: use s3 or git", s.Driver)
	}
	return s, nil, fmt.Errorf("source.driver %q: use s3 (the default) or git", s.Driver)
}

func (s semverSource) initial() string {
	if s.InitialVersion != "" {
		return s.InitialVersion
	}
	return "0.0.0"
}

// Check reports the stored number, or initial_version while none is stored.
func (r Semver) Check(ctx context.Context, raw json.RawMessage, from map[string]string, log io.Writer) ([]map[string]string, error) {
	s, st, err := r.open(raw)
	if err != nil {
		return nil, err
	}
	current, err := st.read(ctx)
	if err != nil {
		return nil, err
	}
	if current == "" {
		current = s.initial()
	}
	return []map[string]string{{"number": current}}, nil
}

// In writes number and version (the version, bumped by the params; nothing
// is stored).
func (r Semver) In(ctx context.Context, raw, rawParams json.RawMessage, version map[string]string, dest string, log io.Writer) (Response, error) {
	if _, _, err := r.open(raw); err != nil {
		return Response{}, err
	}
	var p semverParams
	if err := decodeParams(rawParams, &p); err != nil {
		return Response{}, err
	}
	number := version["number"]
	bumped, err := p.apply(number)
	if err != nil {
		return Response{}, err
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return Response{}, err
	}
	defer root.Close()
	for _, f := range []string{"number", "version"} {
		if err := root.WriteFile(f, []byte(bumped), 0o644); err != nil {
			return Response{}, err
		}
	}
	return Response{Version: map[string]string{"number": number}, Metadata: []Metadata{{"number", bumped}}}, nil
}

// Out stores the number in params.file, or the stored one bumped by the
// params (get_latest: the stored one as it is).
func (r Semver) Out(ctx context.Context, raw, rawParams json.RawMessage, dir string, log io.Writer) (Response, error) {
	s, st, err := r.open(raw)
	if err != nil {
		return Response{}, err
	}
	var p semverParams
	if err := decodeParams(rawParams, &p); err != nil {
		return Response{}, err
	}
	if p.GetLatest {
		current, err := st.read(ctx)
		if err == nil && current == "" {
			current = s.initial()
		}
		return Response{Version: map[string]string{"number": current}, Metadata: []Metadata{{"number", current}}}, err
	}
	var fromFile string
	if p.File != "" {
		if p.Bump != "" || p.Pre != "" || p.Build != "" {
			return Response{}, errors.New("params: give file, or bump/pre/build, not both")
		}
		if fromFile, err = readPutFile(dir, "file", p.File); err != nil {
			return Response{}, err
		}
		if _, err := semver.StrictNewVersion(fromFile); err != nil {
			return Response{}, fmt.Errorf("params.file %s holds %q, not a version: %v", p.File, fromFile, err)
		}
	} else if p.Bump == "" && p.Pre == "" && p.Build == "" {
		return Response{}, errors.New("params: give file (a version to store), or bump, pre or build")
	}
	stored, err := st.write(ctx, func(current string) (string, error) {
		if fromFile != "" {
			return fromFile, nil
		}
		if current == "" {
			current = s.initial()
		}
		return p.apply(current)
	}, log)
	if err != nil {
		return Response{}, err
	}
	return Response{Version: map[string]string{"number": stored}, Metadata: []Metadata{{"number", stored}}}, nil
}

// apply bumps v as upstream's bump, pre and build params do: bump first
// (major, minor, patch drop the pre-release; final drops it alone), then a
// pre-release (its number bumped when it is the same one, else .1), then
// build metadata likewise.
func (p semverParams) apply(v string) (string, error) {
	ver, err := semver.StrictNewVersion(v)
	if err != nil {
		return "", fmt.Errorf("version %q: %v", v, err)
	}
	major, minor, patch := ver.Major(), ver.Minor(), ver.Patch()
	pre, build := ver.Prerelease(), ver.Metadata()
	switch p.Bump {
	case "":
	case "major":
		major, minor, patch, pre = major+1, 0, 0, ""
	case "minor":
		minor, patch, pre = minor+1, 0, ""
	case "patch":
		patch, pre = patch+1, ""
	case "final":
		pre = ""
	default:
		return "", fmt.Errorf("params.bump %q: use major, minor, patch or final", p.Bump)
	}
	if p.Pre != "" {
		pre = bumpLabel(pre, p.Pre, p.PreWithoutVersion)
	}
	if p.Build != "" {
		build = bumpLabel(build, p.Build, p.BuildWithoutVersion)
	}
	out := fmt.Sprintf("%d.%d.%d", major, minor, patch)
	if pre != "" {
		out += "-" + pre
	}
	if build != "" {
		out += "+" + build
	}
	if _, err := semver.StrictNewVersion(out); err != nil {
		return "", fmt.Errorf("bumped version %q: %v", out, err)
	}
	return out, nil
}

// bumpLabel is a pre-release or build label bumped to name: name.N+1 when
// it is name.N, else name.1 (name alone without version).
func bumpLabel(current, name string, withoutVersion bool) string {
	if withoutVersion {
		return name
	}
	if rest, ok := strings.CutPrefix(current, name+"."); ok {
		if n, err := strconv.ParseUint(rest, 10, 64); err == nil {
			return name + "." + strconv.FormatUint(n+1, 10)
		}
	}
	return name + ".1"
}

// semverFile is the git driver's file, relative to the clone.
func semverFile(s semverSource) (string, error) {
	if s.File == "" {
		return "", errors.New("source.file is required with driver git: the file that holds the version")
	}
	if filepath.IsAbs(s.File) || !filepath.IsLocal(s.File) {
		return "", fmt.Errorf("source.file %q must be a path inside the repository", s.File)
	}
	return s.File, nil
}

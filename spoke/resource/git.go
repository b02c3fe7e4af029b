package resource

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Git is the git resource on the real git CLI: check lists new commits on a
// branch, get clones at a commit, put pushes a repository. It covers uri,
// branch and paths of concourse/git-resource; private keys, tags and other
// options are not supported yet and are refused by name.
type Git struct {
	// CacheDir keeps a bare clone per repository for checks; "" uses the
	// system's temporary directory.
	CacheDir string
	// AllowLocal lets source.uri be a path or file:// URI on the spoke
	// (tests); a spoke refuses them.
	AllowLocal bool
}

type gitSource struct {
	URI         string   `json:"uri"`
	Branch      string   `json:"branch"`
	Paths       []string `json:"paths"`
	IgnorePaths []string `json:"ignore_paths"`
}

type gitOutParams struct {
	Repository string `json:"repository"`
	Branch     string `json:"branch"`
}

func (g Git) source(raw json.RawMessage) (gitSource, error) {
	var s gitSource
	if err := decodeStrict(raw, &s); err != nil {
		return s, fmt.Errorf("%w (this git resource supports uri, branch, paths and ignore_paths)", err)
	}
	if s.URI == "" {
		return s, errors.New("source.uri is required")
	}
	if err := g.checkURI(s.URI); err != nil {
		return s, err
	}
	return s, nil
}

// checkURI refuses URIs that would make the spoke's git read its own disk
// (a path or file://: other builds' clones are there) or run a command
// (ext::), unless AllowLocal (tests with repositories on disk).
func (g Git) checkURI(uri string) error {
	lower := strings.ToLower(uri)
	for _, scheme := range []string{"https://", "http://", "ssh://", "git://"} {
		if strings.HasPrefix(lower, scheme) {
			return nil
		}
	}
	if strings.HasPrefix(uri, "-") || strings.Contains(lower, "::") {
		return fmt.Errorf("source.uri %q: use an https://, http://, ssh:// or git:// URI", uri)
	}
	if colon, slash := strings.Index(uri, ":"), strings.Index(uri, "/"); colon > 0 && (slash < 0 || colon < slash) && !strings.HasPrefix(lower, "file:") {
		return nil // scp-like: user@host:path, over ssh
	}
	if g.AllowLocal {
		return nil
	}
	return fmt.Errorf("source.uri %q: use an https://, http://, ssh:// or git:// URI; a path or file:// on the spoke is refused, as other builds' files are there", uri)
}

func git(ctx context.Context, dir string, log io.Writer, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err := cmd.Run()
	if log != nil && stderr.Len() > 0 {
		_, _ = log.Write(stderr.Bytes())
	}
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// mirror returns an up-to-date bare clone of the repository.
func (g Git) mirror(ctx context.Context, s gitSource, log io.Writer) (string, error) {
	base := g.CacheDir
	if base == "" {
		base = filepath.Join(os.TempDir(), "switchyard-git-cache")
	}
	sum := sha256.Sum256([]byte(s.URI))
	dir := filepath.Join(base, hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err != nil {
		if err := os.MkdirAll(base, 0o755); err != nil {
			return "", err
		}
		if _, err := git(ctx, base, log, "clone", "--bare", "--quiet", s.URI, dir); err != nil {
			return "", err
		}
	}
	if _, err := git(ctx, dir, log, "fetch", "--quiet", "--force", "origin", "+refs/heads/*:refs/heads/*"); err != nil {
		return "", err
	}
	return dir, nil
}

func (g Git) branchRef(ctx context.Context, dir string, s gitSource) (string, error) {
	if s.Branch != "" {
		return "refs/heads/" + s.Branch, nil
	}
	return git(ctx, dir, nil, "symbolic-ref", "HEAD")
}

// Check returns the given commit and the newer ones on the branch that touch
// paths (and not only ignore_paths), oldest first; with no version, the latest.
func (g Git) Check(ctx context.Context, raw json.RawMessage, from map[string]string, log io.Writer) ([]map[string]string, error) {
	s, err := g.source(raw)
	if err != nil {
		return nil, err
	}
	dir, err := g.mirror(ctx, s, log)
	if err != nil {
		return nil, err
	}
	ref, err := g.branchRef(ctx, dir, s)
	if err != nil {
		return nil, err
	}
	pathArgs := []string{"--"}
	pathArgs = append(pathArgs, s.Paths...)
	for _, p := range s.IgnorePaths {
		pathArgs = append(pathArgs, ":(exclude)"+p)
	}
	if len(pathArgs) == 1 {
		pathArgs = nil
	}
	known := from["ref"]
	if known != "" {
		if _, err := git(ctx, dir, nil, "cat-file", "-e", known+"^{commit}"); err != nil {
			known = "" // gone (a force-push): start again from the latest
		}
	}
	var out string
	if known == "" {
		out, err = git(ctx, dir, nil, append([]string{"rev-list", "--max-count=1", ref}, pathArgs...)...)
	} else {
		out, err = git(ctx, dir, nil, append([]string{"rev-list", "--reverse", known + ".." + ref}, pathArgs...)...)
	}
	if err != nil {
		return nil, err
	}
	versions := []map[string]string{}
	if known != "" {
		versions = append(versions, map[string]string{"ref": known})
	}
	for _, sha := range strings.Fields(out) {
		versions = append(versions, map[string]string{"ref": sha})
	}
	return versions, nil
}

// In clones the repository into dest and checks out the version's commit.
func (g Git) In(ctx context.Context, raw, params json.RawMessage, version map[string]string, dest string, log io.Writer) (Response, error) {
	s, err := g.source(raw)
	if err != nil {
		return Response{}, err
	}
	ref := version["ref"]
	if ref == "" {
		return Response{}, errors.New("version has no ref")
	}
	args := []string{"clone", "--quiet"}
	if s.Branch != "" {
		args = append(args, "--branch", s.Branch)
	}
	if _, err := git(ctx, dest, log, append(args, s.URI, ".")...); err != nil {
		return Response{}, err
	}
	if _, err := git(ctx, dest, log, "checkout", "--quiet", ref); err != nil {
		return Response{}, err
	}
	md := []Metadata{{Name: "commit", Value: ref}}
	for _, f := range []struct{ name, format string }{{"author", "%an"}, {"author_date", "%ad"}, {"committer", "%cn"}, {"message", "%B"}} {
		if v, err := git(ctx, dest, nil, "log", "-1", "--format="+f.format, ref); err == nil {
			md = append(md, Metadata{Name: f.name, Value: v})
		}
	}
	if s.Branch != "" {
		md = append(md, Metadata{Name: "branch", Value: s.Branch})
	}
	return Response{Version: map[string]string{"ref": ref}, Metadata: md}, nil
}

// Out pushes the repository at params.repository to the branch.
func (g Git) Out(ctx context.Context, raw, rawParams json.RawMessage, dir string, log io.Writer) (Response, error) {
	s, err := g.source(raw)
	if err != nil {
		return Response{}, err
	}
	var p gitOutParams
	if err := decodeStrict(rawParams, &p); err != nil {
		return Response{}, err
	}
	if p.Repository == "" {
		return Response{}, errors.New("params.repository is required: the artifact holding the repository to push")
	}
	repo, cleanup, err := isolatedGitDir(dir, p.Repository)
	if err != nil {
		return Response{}, err
	}
	defer cleanup()
	branch := p.Branch
	if branch == "" {
		branch = s.Branch
	}
	if branch == "" {
		return Response{}, errors.New("give source.branch or params.branch to push to")
	}
	sha, err := gitIsolated(ctx, repo, nil, "rev-parse", "HEAD")
	if err != nil {
		return Response{}, err
	}
	if _, err := gitIsolated(ctx, repo, log, "push", "--quiet", s.URI, "HEAD:refs/heads/"+branch); err != nil {
		return Response{}, err
	}
	return Response{Version: map[string]string{"ref": sha}, Metadata: []Metadata{{Name: "commit", Value: sha}, {Name: "branch", Value: branch}}}, nil
}

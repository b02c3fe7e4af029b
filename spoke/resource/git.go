package resource

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Git is the git resource on the real git CLI: check lists new commits on a
// branch (or tags), get clones at a commit, put pushes a repository and its
// tag. It covers uri, branch, paths, private keys, tags, commit filters and
// git_config of concourse/git-resource; other options (submodule
// credentials, sparse paths, https tunnels, commit verification, git-crypt)
// are refused by name.
type Git struct {
	// CacheDir keeps a bare clone per repository for checks; "" uses the
	// system's temporary directory.
	CacheDir string
	// AllowLocal lets source.uri be a path or file:// URI on the spoke
	// (tests); a spoke refuses them.
	AllowLocal bool
}

type gitSource struct {
	URI                  string           `json:"uri"`
	Branch               string           `json:"branch"`
	Paths                []string         `json:"paths"`
	IgnorePaths          []string         `json:"ignore_paths"`
	PrivateKey           string           `json:"private_key"`
	PrivateKeyUser       string           `json:"private_key_user"`
	PrivateKeyPassphrase string           `json:"private_key_passphrase"`
	TagFilter            string           `json:"tag_filter"`
	TagRegex             string           `json:"tag_regex"`
	FetchTags            *bool            `json:"fetch_tags"`
	GitConfig            []gitConfigEntry `json:"git_config"`
	DisableCISkip        bool             `json:"disable_ci_skip"`
	CommitFilter         *struct {
		Exclude []string `json:"exclude"`
		Include []string `json:"include"`
	} `json:"commit_filter"`
}

type gitInParams struct {
	Depth      int    `json:"depth"`
	FetchTags  *bool  `json:"fetch_tags"`
	Submodules any    `json:"submodules"`
	Debug      bool   `json:"debug"`
	ShortRef   string `json:"short_ref_format"`
}

type gitOutParams struct {
	Repository string `json:"repository"`
	Branch     string `json:"branch"`
	Tag        string `json:"tag"`
	TagPrefix  string `json:"tag_prefix"`
	OnlyTag    bool   `json:"only_tag"`
	Annotate   string `json:"annotate"`
	Rebase     bool   `json:"rebase"`
	Merge      bool   `json:"merge"`
	Returning  string `json:"returning"`
}

func (g Git) source(raw json.RawMessage) (gitSource, error) {
	var s gitSource
	if err := decodeStrict(raw, &s); err != nil {
		return s, fmt.Errorf("%w (this git resource supports uri, branch, paths, ignore_paths, private_key, private_key_user, private_key_passphrase, tag_filter, tag_regex, fetch_tags, git_config, disable_ci_skip and commit_filter)", err)
	}
	if s.URI == "" {
		return s, errors.New("source.uri is required")
	}
	if err := g.checkURI(s.URI); err != nil {
		return s, err
	}
	if s.TagRegex != "" {
		if _, err := regexp.Compile(s.TagRegex); err != nil {
			return s, fmt.Errorf("source.tag_regex: %v", err)
		}
	}
	if s.TagFilter != "" {
		if _, err := path.Match(s.TagFilter, ""); err != nil {
			return s, fmt.Errorf("source.tag_filter %q: %v", s.TagFilter, err)
		}
	}
	if f := s.CommitFilter; f != nil {
		for _, re := range append(append([]string{}, f.Exclude...), f.Include...) {
			if _, err := regexp.Compile(re); err != nil {
				return s, fmt.Errorf("source.commit_filter: %v", err)
			}
		}
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

// mirror returns an up-to-date bare clone of the repository, with its tags.
// Clones are kept per URI and key: a source without the key never reads
// what one with it fetched.
func (g Git) mirror(ctx context.Context, s gitSource, c gitCLI, log io.Writer) (string, error) {
	base := g.CacheDir
	if base == "" {
		base = filepath.Join(os.TempDir(), "switchyard-git-cache")
	}
	sum := sha256.Sum256([]byte(s.URI + "\x00" + s.PrivateKey + "\x00" + s.PrivateKeyUser + "\x00" + strings.Join(c.config, "\x00")))
	dir := filepath.Join(base, hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err != nil {
		if err := os.MkdirAll(base, 0o755); err != nil {
			return "", err
		}
		if _, err := c.run(ctx, base, log, "clone", "--bare", "--quiet", s.URI, dir); err != nil {
			return "", err
		}
	}
	refs := []string{"+refs/heads/*:refs/heads/*"}
	if s.tags() {
		refs = append(refs, "+refs/tags/*:refs/tags/*")
	}
	if _, err := c.run(ctx, dir, log, append([]string{"fetch", "--quiet", "--force", "--prune", "origin"}, refs...)...); err != nil {
		return "", err
	}
	return dir, nil
}

// tags tells whether versions are tags.
func (s gitSource) tags() bool { return s.TagFilter != "" || s.TagRegex != "" }

func (g Git) branchRef(ctx context.Context, dir string, s gitSource) (string, error) {
	if s.Branch != "" {
		return "refs/heads/" + s.Branch, nil
	}
	return git(ctx, dir, nil, "symbolic-ref", "HEAD")
}

// Check returns the given commit and the newer ones on the branch that touch
// paths (and not only ignore_paths) and pass the commit filters, oldest
// first; with no version, the latest. With a tag filter, tags instead.
func (g Git) Check(ctx context.Context, raw json.RawMessage, from map[string]string, log io.Writer) ([]map[string]string, error) {
	s, err := g.source(raw)
	if err != nil {
		return nil, err
	}
	c, done, err := s.cli()
	if err != nil {
		return nil, err
	}
	defer done()
	dir, err := g.mirror(ctx, s, c, log)
	if err != nil {
		return nil, err
	}
	if s.tags() {
		return checkTags(ctx, c, dir, s, from)
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
	rangeArgs := []string{"--max-count=1000", ref} // the latest kept commit is among these
	if known != "" {
		rangeArgs = []string{"--reverse", known + ".." + ref}
	}
	// Each commit as its sha and message, NUL-separated.
	out, err := git(ctx, dir, nil, append(append([]string{"log", "-z", "--format=%H%x1f%B"}, rangeArgs...), pathArgs...)...)
	if err != nil {
		return nil, err
	}
	versions := []map[string]string{}
	if known != "" {
		versions = append(versions, map[string]string{"ref": known})
	}
	for _, entry := range strings.Split(out, "\x00") {
		sha, message, ok := strings.Cut(strings.TrimSpace(entry), "\x1f")
		if !ok || !s.keeps(message) {
			continue
		}
		versions = append(versions, map[string]string{"ref": sha})
		if known == "" {
			break // the latest only
		}
	}
	return versions, nil
}

// keeps tells whether a commit's message passes [ci skip] (unless
// disable_ci_skip) and the commit filter: no exclude pattern matches, and
// every include pattern does.
func (s gitSource) keeps(message string) bool {
	if !s.DisableCISkip && (strings.Contains(message, "[ci skip]") || strings.Contains(message, "[skip ci]")) {
		return false
	}
	if f := s.CommitFilter; f != nil {
		for _, re := range f.Exclude {
			if regexp.MustCompile(re).MatchString(message) {
				return false
			}
		}
		for _, re := range f.Include {
			if !regexp.MustCompile(re).MatchString(message) {
				return false
			}
		}
	}
	return true
}

// In clones the repository into dest and checks out the version's commit
// (a tag's, for tag versions), writing what Concourse's git resource writes
// under .git.
func (g Git) In(ctx context.Context, raw, rawParams json.RawMessage, version map[string]string, dest string, log io.Writer) (Response, error) {
	s, err := g.source(raw)
	if err != nil {
		return Response{}, err
	}
	var p gitInParams
	if err := decodeStrict(rawParams, &p); err != nil {
		return Response{}, err
	}
	submodules, err := p.submodulePaths()
	if err != nil {
		return Response{}, err
	}
	c, done, err := s.cli()
	if err != nil {
		return Response{}, err
	}
	defer done()
	ref := version["ref"]
	if ref == "" {
		return Response{}, errors.New("version has no ref")
	}
	commit := ref
	if s.tags() && version["commit"] != "" {
		commit = version["commit"]
	}
	args := []string{"clone", "--quiet"}
	if s.Branch != "" && !s.tags() {
		args = append(args, "--branch", s.Branch)
	}
	if p.Depth > 0 {
		args = append(args, "--depth", strconv.Itoa(p.Depth), "--no-single-branch")
	}
	fetchTags := s.FetchTags
	if p.FetchTags != nil {
		fetchTags = p.FetchTags
	}
	if fetchTags != nil && !*fetchTags && !s.tags() {
		args = append(args, "--no-tags")
	}
	if _, err := c.run(ctx, dest, log, append(args, s.URI, ".")...); err != nil {
		return Response{}, err
	}
	if _, err := git(ctx, dest, nil, "cat-file", "-e", commit+"^{commit}"); err != nil && p.Depth > 0 {
		// Deeper than depth: fetch the whole history.
		if _, err := c.run(ctx, dest, log, "fetch", "--quiet", "--unshallow", "origin"); err != nil {
			return Response{}, err
		}
	}
	if _, err := git(ctx, dest, log, "-c", "advice.detachedHead=false", "checkout", "--quiet", commit); err != nil {
		return Response{}, err
	}
	if submodules != nil {
		// Submodules with the source's key, over the network only: a
		// .gitmodules that names a path on the spoke, or a command, is
		// refused by git.
		args := []string{"-c", "protocol.file.allow=never", "-c", "protocol.ext.allow=never", "submodule", "update", "--init", "--recursive", "--quiet"}
		if p.Depth > 0 {
			args = append(args, "--depth", strconv.Itoa(p.Depth))
		}
		if _, err := c.run(ctx, dest, log, append(append(args, "--"), submodules...)...); err != nil {
			return Response{}, err
		}
	}
	return writeGitInfo(ctx, dest, s, ref, commit)
}

// submodulePaths reads params.submodules: all (the default: nil paths, an
// empty list), none (nil), or a list of paths.
func (p gitInParams) submodulePaths() ([]string, error) {
	switch v := p.Submodules.(type) {
	case nil:
		return []string{}, nil
	case string:
		switch v {
		case "all":
			return []string{}, nil
		case "none":
			return nil, nil
		}
	case []any:
		paths := []string{}
		for _, e := range v {
			s, ok := e.(string)
			if !ok || s == "" || strings.HasPrefix(s, "-") || !filepath.IsLocal(s) {
				return nil, fmt.Errorf("params.submodules: %v is not a path in the repository", e)
			}
			paths = append(paths, s)
		}
		return paths, nil
	}
	return nil, fmt.Errorf("params.submodules: give all, none or a list of paths, not %v", p.Submodules)
}

// writeGitInfo writes .git/ref, commit, short_ref, branch, commit_message,
// author, committer and url, and returns the version and its metadata.
func writeGitInfo(ctx context.Context, dest string, s gitSource, ref, commit string) (Response, error) {
	md := []Metadata{{Name: "commit", Value: commit}}
	files := map[string]string{"ref": ref, "commit": commit, "short_ref": commit[:min(7, len(commit))], "url": s.URI}
	for _, f := range []struct{ name, format string }{
		{"author", "%an"}, {"author_date", "%ad"}, {"committer", "%cn"}, {"committer_date", "%cd"}, {"message", "%B"}, {"commit_timestamp", "%ct"},
	} {
		v, err := git(ctx, dest, nil, "log", "-1", "--format="+f.format, commit)
		if err != nil {
			return Response{}, err
		}
		switch f.name {
		case "message":
			files["commit_message"] = v
		case "commit_timestamp":
			files[f.name] = v
			continue
		default:
			files[f.name] = v
		}
		md = append(md, Metadata{Name: f.name, Value: v})
	}
	if s.Branch != "" {
		files["branch"] = s.Branch
		md = append(md, Metadata{Name: "branch", Value: s.Branch})
	}
	if tags, err := git(ctx, dest, nil, "tag", "--points-at", commit); err == nil && tags != "" {
		files["tags"] = strings.Join(strings.Fields(tags), ",")
		md = append(md, Metadata{Name: "tags", Value: files["tags"]})
	}
	root, err := os.OpenRoot(filepath.Join(dest, ".git"))
	if err != nil {
		return Response{}, err
	}
	defer root.Close()
	for name, v := range files {
		if err := root.WriteFile(name, []byte(v), 0o644); err != nil {
			return Response{}, err
		}
	}
	version := map[string]string{"ref": ref}
	if s.tags() {
		version["commit"] = commit
	}
	return Response{Version: version, Metadata: md}, nil
}

// Out pushes the repository at params.repository to the branch, and its
// tag when params.tag names a file holding one.
func (g Git) Out(ctx context.Context, raw, rawParams json.RawMessage, dir string, log io.Writer) (Response, error) {
	s, err := g.source(raw)
	if err != nil {
		return Response{}, err
	}
	var p gitOutParams
	if err := decodeStrict(rawParams, &p); err != nil {
		return Response{}, fmt.Errorf("%w (this git resource's put takes repository, branch, tag, tag_prefix, only_tag, annotate, rebase, merge and returning)", err)
	}
	if p.Repository == "" {
		return Response{}, errors.New("params.repository is required: the artifact holding the repository to push")
	}
	c, done, err := s.cli()
	if err != nil {
		return Response{}, err
	}
	defer done()
	tag, annotation, err := putTag(dir, p)
	if err != nil {
		return Response{}, err
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
	if branch == "" && !p.OnlyTag {
		return Response{}, errors.New("give source.branch or params.branch to push to")
	}
	sha, err := gitIsolated(ctx, repo, nil, "rev-parse", "HEAD")
	if err != nil {
		return Response{}, err
	}
	var refspecs []string
	if !p.OnlyTag {
		refspecs = append(refspecs, "HEAD:refs/heads/"+branch)
	}
	// The tag goes on HEAD, and again on the commit a rebase or merge makes.
	var tagHead func() error
	if tag != "" {
		args := []string{"tag", "--force", tag, "HEAD"}
		if annotation != "" {
			args = []string{"-c", "user.name=switchyard", "-c", "user.email=switchyard@localhost", "tag", "--force", "-a", "-m", annotation, tag, "HEAD"}
		}
		tagHead = func() error {
			_, err := gitIsolated(ctx, repo, log, args...)
			return err
		}
		if err := tagHead(); err != nil {
			return Response{}, err
		}
		refspecs = append(refspecs, "refs/tags/"+tag+":refs/tags/"+tag)
	}
	if len(refspecs) == 0 {
		return Response{}, errors.New("params.only_tag needs params.tag")
	}
	if p.Rebase && p.Merge {
		return Response{}, errors.New("params: give rebase or merge, not both")
	}
	pushed, err := pushRetrying(ctx, c, repo, s.URI, branch, refspecs, p, tagHead, log)
	if err != nil {
		return Response{}, err
	}
	if !(p.Merge && p.Returning == "unmerged") {
		sha = pushed
	}
	md := []Metadata{{Name: "commit", Value: sha}}
	if branch != "" {
		md = append(md, Metadata{Name: "branch", Value: branch})
	}
	if tag != "" {
		md = append(md, Metadata{Name: "tags", Value: tag})
	}
	return Response{Version: map[string]string{"ref": sha}, Metadata: md}, nil
}

package resource

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// A put's directory holds a link to each artifact the put may read; the
// spoke makes those links. What is inside an artifact a task made, so a put
// reads it confined to its artifact: a link that leaves it, a git directory
// elsewhere, are refused. Built-in types run in the spoke's own process
// (also on kube spokes), so this is what keeps a build from reading the
// spoke's files or another team's.

// putPath splits rel into the real directory of its artifact and the path
// inside that.
func putPath(dir, rel string) (base, inside string, err error) {
	if filepath.IsAbs(rel) {
		return "", "", fmt.Errorf("path %q must be relative", rel)
	}
	rel = filepath.ToSlash(filepath.Clean(rel))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", "", fmt.Errorf("path %q leaves its directory", rel)
	}
	first, rest, _ := strings.Cut(rel, "/")
	link := filepath.Join(dir, first)
	if fi, err := os.Lstat(link); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(link)
		if err != nil {
			return "", "", err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(dir, target)
		}
		if rest == "" {
			rest = "."
		}
		return target, rest, nil
	}
	return dir, rel, nil
}

// openInPutDir opens the file at rel, inside its artifact.
func openInPutDir(dir, rel string) (*os.File, error) {
	base, inside, err := putPath(dir, rel)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(base)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.Open(inside)
}

// maxPutFile bounds what is read of a small file a put names (a version, a
// tag, an annotation).
const maxPutFile = 64 << 10

// readPutFile reads such a file of a put's directory (params.field names
// it), trimmed, confined to the directory.
func readPutFile(dir, field, rel string) (string, error) {
	f, err := openInPutDir(dir, rel)
	if err != nil {
		return "", fmt.Errorf("params.%s %q: %w", field, rel, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPutFile))
	return strings.TrimSpace(string(data)), err
}

// isolatedGitDir copies the git directory of the repository at rel (its
// .git, or itself when bare) into a new directory of the spoke's, without
// the repository's config, hooks and alternates, so git runs none of what
// the build wrote there and reads no repository but this one. A .git that
// is a file (gitdir: elsewhere), a worktree's commondir, or a link are
// refused.
func isolatedGitDir(dir, rel string) (string, func(), error) {
	base, inside, err := putPath(dir, rel)
	if err != nil {
		return "", nil, err
	}
	root, err := os.OpenRoot(base)
	if err != nil {
		return "", nil, err
	}
	defer root.Close()
	src := path.Join(inside, ".git")
	switch fi, err := root.Lstat(src); {
	case err == nil && !fi.IsDir():
		return "", nil, fmt.Errorf("repository %q: its .git is not a directory (a gitdir file or a link): push from a clone of its own", rel)
	case err != nil:
		src = inside // a bare repository
	}
	if _, err := root.Lstat(path.Join(src, "HEAD")); err != nil {
		return "", nil, fmt.Errorf("repository %q is not a git repository", rel)
	}
	if _, err := root.Lstat(path.Join(src, "commondir")); err == nil {
		return "", nil, fmt.Errorf("repository %q is a worktree of a repository elsewhere: push from a clone of its own", rel)
	}
	tmp, err := os.MkdirTemp("", "switchyard-put-git-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	skip := map[string]bool{"config": true, "hooks": true, "objects/info/alternates": true, "objects/info/http-alternates": true}
	err = fs.WalkDir(root.FS(), src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, src), "/")
		if skip[rel] {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		to := filepath.Join(tmp, filepath.FromSlash(rel))
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type().IsRegular():
			return copyFromRoot(root, p, to)
		}
		return fmt.Errorf("repository %q: %s is a link or a special file, which a put does not follow", rel, p)
	})
	if err == nil {
		err = os.WriteFile(filepath.Join(tmp, "config"), []byte("[core]\n\trepositoryformatversion = 0\n\tbare = true\n"), 0o644)
	}
	if err != nil {
		cleanup()
		return "", nil, err
	}
	return tmp, cleanup, nil
}

func copyFromRoot(root *os.Root, from, to string) error {
	in, err := root.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// gitIsolated runs git in an isolated git directory: no system config, no
// hooks.
func gitIsolated(ctx context.Context, gitDir string, log io.Writer, args ...string) (string, error) {
	return git(ctx, gitDir, log, append([]string{"-c", "core.hooksPath=/dev/null", "--git-dir", gitDir}, args...)...)
}

// globOne finds the one path in a put's directory that pattern, the value of
// params' field, matches, and returns it relative to dir.
func globOne(dir, pattern, field string) (string, error) {
	if filepath.IsAbs(pattern) || strings.HasPrefix(filepath.Clean(pattern), "..") {
		return "", fmt.Errorf("params: %s %q must be a path inside the put's directory", field, pattern)
	}
	matches, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		return "", fmt.Errorf("params: %s %q: %v", field, pattern, err)
	}
	if len(matches) != 1 {
		return "", fmt.Errorf("params: %s %q matches %d files, not one", field, pattern, len(matches))
	}
	return filepath.Rel(dir, matches[0])
}

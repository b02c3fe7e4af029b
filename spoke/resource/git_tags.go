package resource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"
)

// Tags as versions (tag_filter, tag_regex), and the tag a put pushes.

// gitUserName is what private_key_user may be.
var gitUserName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// checkTags lists the tags that tag_filter (a glob) or tag_regex (a whole
// line) matches, oldest first by their date, as {ref: tag, commit: sha}:
// with no version the newest, with one every tag from it on.
func checkTags(ctx context.Context, c gitCLI, dir string, s gitSource, from map[string]string) ([]map[string]string, error) {
	out, err := git(ctx, dir, nil, "for-each-ref", "--sort=creatordate", "--format=%(refname:strip=2)%00%(objectname)%00%(*objectname)", "refs/tags")
	if err != nil {
		return nil, err
	}
	var re *regexp.Regexp
	if s.TagFilter == "" {
		re = regexp.MustCompile(`^(?:` + s.TagRegex + `)$`)
	}
	var all []map[string]string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "\x00")
		if len(f) != 3 || f[0] == "" {
			continue
		}
		if s.TagFilter != "" {
			if ok, _ := path.Match(s.TagFilter, f[0]); !ok {
				continue
			}
		} else if !re.MatchString(f[0]) {
			continue
		}
		commit := f[2] // an annotated tag's commit
		if commit == "" {
			commit = f[1]
		}
		all = append(all, map[string]string{"ref": f[0], "commit": commit})
	}
	if len(all) == 0 {
		return []map[string]string{}, nil
	}
	for i, v := range all {
		if v["ref"] == from["ref"] {
			return all[i:], nil
		}
	}
	return all[len(all)-1:], nil // no version, or one whose tag is gone
}

// putTag reads the tag a put pushes (tag_prefix and the tag file's first
// line) and its annotation, inside the put's directory.
func putTag(dir string, p gitOutParams) (tag, annotation string, err error) {
	if p.Tag == "" {
		if p.TagPrefix != "" || p.Annotate != "" {
			return "", "", errors.New("params.tag_prefix and annotate need params.tag")
		}
		return "", "", nil
	}
	name, err := readPutFile(dir, "tag", p.Tag)
	if err != nil {
		return "", "", err
	}
	tag = p.TagPrefix + strings.SplitN(name, "\n", 2)[0]
	if _, err := git(context.Background(), dir, nil, "check-ref-format", "refs/tags/"+tag); err != nil || strings.HasPrefix(tag, "-") {
		return "", "", fmt.Errorf("params.tag: %q is not a valid tag name", tag)
	}
	if p.Annotate != "" {
		if annotation, err = readPutFile(dir, "annotate", p.Annotate); err != nil {
			return "", "", err
		}
	}
	return tag, annotation, nil
}

// pushRetrying pushes refspecs; when the branch moved on (the push is
// rejected) and the put says rebase or merge, it fetches the branch, rebases
// or merges HEAD onto it in a work tree of its own, and pushes again, a few
// times, calling retag (when not nil) after each rebase or merge so the tag
// names the commit pushed. The push is atomic: a rejected branch pushes no
// tag. It returns the commit pushed.
func pushRetrying(ctx context.Context, c gitCLI, repo, uri, branch string, refspecs []string, p gitOutParams, retag func() error, log io.Writer) (string, error) {
	isolated := []string{"-c", "core.hooksPath=/dev/null", "--git-dir", repo}
	for try := 0; ; try++ {
		_, err := c.run(ctx, repo, log, append(append(isolated, "push", "--quiet", "--atomic", uri), refspecs...)...)
		if err == nil {
			return gitIsolated(ctx, repo, nil, "rev-parse", "HEAD")
		}
		rejected := strings.Contains(err.Error(), "rejected") || strings.Contains(err.Error(), "fetch first") || strings.Contains(err.Error(), "non-fast-forward")
		if !(p.Rebase || p.Merge) || !rejected || branch == "" || try >= 4 {
			return "", err
		}
		fmt.Fprintf(log, "branch %s moved on: %s onto it and pushing again\n", branch, map[bool]string{true: "rebasing", false: "merging"}[p.Rebase])
		if _, err := c.run(ctx, repo, log, append(isolated, "fetch", "--quiet", uri, "refs/heads/"+branch)...); err != nil {
			return "", err
		}
		work, err := os.MkdirTemp("", "switchyard-put-work-")
		if err != nil {
			return "", err
		}
		tree := append(isolated, "--work-tree", work, "-c", "user.name=switchyard", "-c", "user.email=switchyard@localhost")
		_, err = git(ctx, work, nil, append(tree, "checkout", "--quiet", "--force", "HEAD")...)
		if err == nil && p.Rebase {
			_, err = git(ctx, work, log, append(tree, "rebase", "--quiet", "FETCH_HEAD")...)
		} else if err == nil {
			_, err = git(ctx, work, log, append(tree, "merge", "--quiet", "--no-edit", "FETCH_HEAD")...)
		}
		os.RemoveAll(work)
		if err != nil {
			return "", fmt.Errorf("put onto %s, which moved on: %w", branch, err)
		}
		if retag != nil {
			if err := retag(); err != nil {
				return "", err
			}
		}
	}
}

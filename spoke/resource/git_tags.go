package resource

import (
	"context"
	"errors"
	"fmt"
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

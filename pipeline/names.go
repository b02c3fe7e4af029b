package pipeline

import (
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen bounds every name a user gives (pipelines, jobs, resources,
// teams, steps, artifacts): a name becomes a path element on spokes, where
// 255 bytes is the most a file name may have.
const MaxNameLen = 255

// CheckName says why a name cannot be used at all, whatever Concourse's
// identifier rule (whose breach is only a warning) says: it is empty, too
// long, not UTF-8, holds a slash, a backslash or a control character (NUL
// included), or is "." or "..". Names become URL path segments, file names on
// spokes and pod labels; these would reach outside them.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("a name cannot be empty")
	case len(name) > MaxNameLen:
		return fmt.Errorf("name %.40q... is %d bytes: names are at most %d", name, len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("name %q is not UTF-8", name)
	case name == "." || name == "..":
		return fmt.Errorf("name %q is a path, not a name: use letters, digits, '-', '_' and '.'", name)
	}
	for _, c := range name {
		if c == '/' || c == '\\' || unicode.IsControl(c) {
			return fmt.Errorf("name %q holds %q, which names cannot: use letters, digits, '-', '_' and '.'", name, c)
		}
	}
	return nil
}

// CheckRelPath says why a path inside a task's working directory (an input's
// or output's path, a cache's path, run.dir) would leave it; see RelPath.
func CheckRelPath(p string) error {
	_, err := RelPath(p)
	return err
}

// RelPath is a path inside a task's working directory as the spoke joins it:
// as in Concourse, a leading "/" is not respected (the path is relative all
// the same). It is an error for a path that climbs out with "..", holds a
// control character or is longer than 4096 bytes. "" and "." are the
// working directory itself.
func RelPath(p string) (string, error) {
	if len(p) > 4096 {
		return "", fmt.Errorf("path %.40q... is %d bytes: paths are at most 4096", p, len(p))
	}
	if strings.IndexFunc(p, unicode.IsControl) >= 0 {
		return "", fmt.Errorf("path %q holds a control character", p)
	}
	rel := strings.TrimLeft(p, "/")
	if rel == "" {
		return ".", nil
	}
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("path %q leaves the task's working directory: give a path without '..'", p)
	}
	return filepath.Clean(rel), nil
}

package cli

import (
	"context"
	"io/fs"
	"os/exec"
	"path"
	"strings"

	"github.com/switchyard-ci/switchyard/volumes"
)

// gitKeep keeps what Concourse's fly uploads from a directory in a git work
// tree: tracked files not deleted, and untracked files not ignored (git
// ls-files), with the directories that hold them; .git and ignored files
// stay home. ok is false when dir is not in a work tree, or git is not
// installed: then the whole directory goes, as fly does.
func gitKeep(ctx context.Context, dir string) (keep volumes.Keep, ok bool) {
	list := func(args ...string) ([]string, bool) {
		out, err := exec.CommandContext(ctx, "git", append([]string{"-C", dir, "ls-files", "-z"}, args...)...).Output()
		if err != nil {
			return nil, false
		}
		return strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00"), true
	}
	files, ok := list("--cached", "--others", "--exclude-standard")
	if !ok {
		return nil, false
	}
	deleted, _ := list("--deleted")
	gone := map[string]bool{}
	for _, f := range deleted {
		gone[f] = true
	}
	listed := map[string]bool{} // files, and submodules' directories
	holders := map[string]bool{}
	for _, f := range files {
		if f == "" || gone[f] {
			continue
		}
		listed[f] = true
		for d := path.Dir(f); d != "."; d = path.Dir(d) {
			holders[d] = true
		}
	}
	return func(rel string, d fs.DirEntry) bool {
		if listed[rel] || holders[rel] {
			return true
		}
		// Inside a listed directory (a submodule): everything goes.
		for p := path.Dir(rel); p != "."; p = path.Dir(p) {
			if listed[p] {
				return true
			}
		}
		return false
	}, true
}

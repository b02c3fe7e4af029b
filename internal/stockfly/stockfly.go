// Package stockfly finds the stock Concourse fly 8.2.5 that ../shared/tools
// holds beside the repository, for the tests that prove compatibility with it.
package stockfly

import (
	"os"
	"path/filepath"
	"runtime"
)

// Path is the stock fly's path, or "" when it is not there.
func Path() string {
	_, here, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	path := filepath.Join(filepath.Dir(here), "..", "..", "..", "shared", "tools", "fly")
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return path
}

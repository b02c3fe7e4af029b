package cli

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/switchyard-ci/switchyard/api"
)

// table prints rows in aligned columns, with a header when writing to a
// terminal (fly's --print-table-headers behaviour).
func (e *env) table(header []string, rows [][]string) {
	widths := make([]int, len(header))
	all := rows
	if e.color {
		all = append([][]string{header}, rows...)
	}
	for _, r := range all {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for ri, r := range all {
		var b strings.Builder
		for i, c := range r {
			if e.color && ri == 0 {
				c = e.colour("1", c)
				b.WriteString(c + strings.Repeat(" ", widths[i]-utf8.RuneCountInString(r[i])))
			} else {
				b.WriteString(c + strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)))
			}
			if i < len(r)-1 {
				b.WriteString("  ")
			}
		}
		fmt.Fprintln(e.stdout, strings.TrimRight(b.String(), " "))
	}
}

// statusWord colours a build status as fly does.
func (e *env) statusWord(status api.BuildStatus) string {
	s := string(status)
	switch status {
	case api.BuildSucceeded:
		return e.colour("32", s)
	case api.BuildFailed:
		return e.colour("31", s)
	case api.BuildErrored, api.BuildStarted:
		return e.colour("33", s)
	case api.BuildAborted:
		return e.colour("38;5;130", s)
	}
	return s
}

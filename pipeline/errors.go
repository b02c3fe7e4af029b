package pipeline

import (
	"fmt"
	"strings"
)

// Error is one problem in a pipeline config, located by file, line and field.
type Error struct {
	File  string // config file name, or "" when the config came from elsewhere
	Line  int    // 1-based; 0 when unknown
	Where string // the field or element, e.g. `job "deploy": get step "repo"`
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Where != "" {
		b.WriteString(e.Where)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a config, in file order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Warning is something Concourse accepts but the author should fix. Type follows
// Concourse's ConfigWarning types ("invalid_identifier", "deprecation", ...).
type Warning struct {
	Type string
	Error
}

// maxErrors bounds how many problems one load reports, so that hostile input
// cannot make the report itself huge.
const maxErrors = 100

// report collects errors and warnings with a file name.
type report struct {
	file     string
	errs     Errors
	warnings []Warning
	seen     map[Error]bool // a node walked twice reports its problems once
}

func (r *report) errorf(line int, where, format string, args ...any) {
	e := Error{File: r.file, Line: line, Where: where, Msg: fmt.Sprintf(format, args...)}
	if len(r.errs) >= maxErrors || r.seen[e] {
		return
	}
	if r.seen == nil {
		r.seen = map[Error]bool{}
	}
	r.seen[e] = true
	r.errs = append(r.errs, &e)
}

func (r *report) warnf(typ string, line int, where, format string, args ...any) {
	if len(r.warnings) < maxErrors {
		r.warnings = append(r.warnings, Warning{Type: typ, Error: Error{File: r.file, Line: line, Where: where, Msg: fmt.Sprintf(format, args...)}})
	}
}

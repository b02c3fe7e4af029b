package vars

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Pattern matches a ((var)) in text, as Concourse's matcher does: no spaces,
// an optional SOURCE: prefix, then the path and its fields.
var Pattern = regexp.MustCompile(`\(\((([-/\.\w\pL]+\:)?[-/\.:@"\w\pL]+)\)\)`)

// whole matches a string that is one ((var)) and nothing else.
var whole = regexp.MustCompile(`^` + Pattern.String() + `$`)

// Ref is one parsed reference: ((SOURCE:PATH.FIELD.FIELD)).
type Ref struct {
	Source string   // "" for the default source, "." for the build's local vars
	Path   string   // the secret's name
	Fields []string // keys walked into the value
}

// Parse parses the text between the parentheses. Quotes protect '.' and ':'
// (((src:"my.secret"."a:b")) is path my.secret, field a:b); each segment is
// cleaned like a file path, so '..' never climbs above the name.
func Parse(name string) (Ref, error) {
	if strings.Count(name, `"`)%2 != 0 {
		return Ref{}, fmt.Errorf("invalid var '%s': contains unclosed quotes", name)
	}
	var ref Ref
	rest := name
	if i := indexUnquoted(rest, ':'); i >= 0 {
		ref.Source = strings.TrimSpace(strings.ReplaceAll(rest[:i], `"`, ""))
		rest = rest[i+1:]
	}
	var segs []string
	for {
		i := indexUnquoted(rest, '.')
		seg := rest
		if i >= 0 {
			seg = rest[:i]
		}
		seg = clean(seg)
		if seg == "" {
			return Ref{}, fmt.Errorf("invalid var '%s': empty field", name)
		}
		segs = append(segs, seg)
		if i < 0 {
			break
		}
		rest = rest[i+1:]
	}
	ref.Path = segs[0]
	if len(segs) > 1 {
		ref.Fields = segs[1:]
	}
	return ref, nil
}

// indexUnquoted finds c outside double quotes, or -1.
func indexUnquoted(s string, c byte) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case c:
			if !quoted {
				return i
			}
		}
	}
	return -1
}

// clean trims an unquoted segment, drops its quotes, and cleans it like a
// path: ".." elements are resolved and a leading ".." is dropped; a leading
// "/" stays.
func clean(seg string) string {
	if strings.HasPrefix(strings.TrimSpace(seg), `"`) {
		seg = strings.ReplaceAll(strings.TrimSpace(seg), `"`, "")
	} else {
		seg = strings.TrimSpace(seg)
	}
	if seg == "" {
		return ""
	}
	p := path.Clean(seg)
	for p == ".." || strings.HasPrefix(p, "../") {
		p = strings.TrimPrefix(strings.TrimPrefix(p, ".."), "/")
	}
	if p == "." {
		return ""
	}
	return p
}

// String renders the reference as Concourse names it in errors: a segment
// holding any of ", . : /" or a space is double-quoted.
func (r Ref) String() string {
	var b strings.Builder
	if r.Source != "" {
		b.WriteString(quote(r.Source))
		b.WriteByte(':')
	}
	b.WriteString(quote(r.Path))
	for _, f := range r.Fields {
		b.WriteByte('.')
		b.WriteString(quote(f))
	}
	return b.String()
}

func quote(seg string) string {
	if strings.ContainsAny(seg, ",.:/ ") {
		return `"` + seg + `"`
	}
	return seg
}

// Refs lists the references in text, in order. Unparsable ones are skipped:
// Interpolate reports them.
func Refs(text string) []Ref {
	var out []Ref
	for _, m := range Pattern.FindAllStringSubmatch(text, -1) {
		if ref, err := Parse(m[1]); err == nil {
			out = append(out, ref)
		}
	}
	return out
}

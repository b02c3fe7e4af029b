// Package web is the hub's web UI: pages rendered on the server from Go
// templates embedded in the binary, a stylesheet, and a small script for
// what must be live (a build's log as it streams) and for the buttons,
// which call the hub's API with the session's CSRF token.
package web

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"strings"
	"time"
)

//go:embed templates/*.html
var templates embed.FS

//go:embed static
var static embed.FS

// Static is the UI's stylesheet and script, served under /public/.
func Static() fs.FS {
	sub, _ := fs.Sub(static, "static")
	return sub
}

// Page is what every page's layout needs.
type Page struct {
	Title string
	User  string // "" when nobody is signed in
	CSRF  string // the token the buttons send as X-Csrf-Token
	Path  string // the page's path, for the sign-in link
	Wall  string // the wall's message for everyone, "" when none
}

// Join puts suffix on a URL's path, before its query (an instanced
// pipeline's ?vars=).
func Join(u, suffix string) string {
	path, query, found := strings.Cut(u, "?")
	if !found {
		return path + suffix
	}
	return path + suffix + "?" + query
}

var funcs = template.FuncMap{
	"join": Join,
	"at": func(t *time.Time) string {
		if t == nil {
			return "n/a"
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	"duration": func(from, to *time.Time) string {
		if from == nil || to == nil {
			return ""
		}
		return to.Sub(*from).Round(time.Second).String()
	},
}

var pages = map[string]*template.Template{}

func init() {
	names, err := fs.Glob(templates, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, name := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		pages[base] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templates, "templates/layout.html", name))
	}
}

// Render writes the page named name with data (a struct that embeds Page).
func Render(w io.Writer, name string, data any) error {
	t, ok := pages[name]
	if !ok {
		return fmt.Errorf("no page %q", name)
	}
	return t.Execute(w, data)
}

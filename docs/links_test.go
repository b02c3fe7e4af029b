// Package docs holds the documentation's checks: the Markdown of the
// repository (README, SECURITY and docs/) is read as a newcomer follows it.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// markdownLink finds [text](target) links; images too.
var markdownLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// Every relative link of the repository's Markdown resolves: to a file or
// directory of the repository, and to a heading of that file when it names
// one (#anchor, as GitHub makes them).
func TestRelativeLinksResolve(t *testing.T) {
	files, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../README.md", "../SECURITY.md")
	checked := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			for _, m := range markdownLink.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				checked++
				path, anchor, _ := strings.Cut(target, "#")
				resolved := file
				if path != "" {
					resolved = filepath.Join(filepath.Dir(file), path)
				}
				if _, err := os.Stat(resolved); err != nil {
					t.Errorf("%s:%d: link %q: %s does not exist", file, i+1, target, resolved)
					continue
				}
				if anchor != "" && !hasAnchor(t, resolved, anchor) {
					t.Errorf("%s:%d: link %q: %s has no heading #%s", file, i+1, target, resolved, anchor)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no relative links found: the check read nothing")
	}
}

// hasAnchor tells whether a Markdown file has a heading whose GitHub anchor
// is anchor.
func hasAnchor(t *testing.T, file, anchor string) bool {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if heading, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " "); ok && strings.HasPrefix(line, "#") && slug(heading) == anchor {
			return true
		}
	}
	return false
}

// slug is GitHub's anchor of a heading: lower case, spaces to hyphens,
// punctuation other than hyphens and underscores dropped.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// namedTest finds a test named with its package directory, as the documents
// cite them: e2e/TestStockFlyRunsABuild, hub/store/TestVersionMetadata.
var namedTest = regexp.MustCompile(`\b([a-z][a-z0-9]*(?:/[a-z][a-z0-9]*)*)/(Test[A-Za-z0-9_]+)`)

// Every test the documents (and the generated tables' notes) cite exists,
// in the package they name: a renamed test does not leave a claim behind.
func TestNamedTestsExist(t *testing.T) {
	files, err := markdownFiles("..")
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join("..", f))
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, string(data))
	}
	for _, m := range []map[string]string{notProbed, probeNotes, keyNotes, ownRoutes} {
		for _, v := range m {
			texts = append(texts, v)
		}
	}
	checked := 0
	for _, text := range texts {
		for _, m := range namedTest.FindAllStringSubmatch(text, -1) {
			dir, name := filepath.Join("..", m[1]), m[2]
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				continue // not a package path
			}
			checked++
			tests, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
			found := false
			for _, tf := range tests {
				data, err := os.ReadFile(tf)
				if err != nil {
					t.Fatal(err)
				}
				found = found || strings.Contains(string(data), "func "+name+"(")
			}
			if !found {
				t.Errorf("the documents cite %s/%s, which does not exist", m[1], name)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no cited test found: the check read nothing")
	}
	t.Logf("%d citations of tests checked", checked)
}

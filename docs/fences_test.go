package docs

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// fence is one fenced block of a Markdown file.
type fence struct {
	file  string // relative to the repository's root
	line  int    // of the opening fence, from 1
	lang  string // the first word of the info string
	text  string
	skip  string // why the doc test does not run it; "" runs it
	shows string // the repository file whose contents it shows, from <!-- file: PATH -->
}

// Languages a fence may name: sh is what a user types (and what the doc
// test runs); the others are files, output and code shown.
var languages = map[string]bool{"sh": true, "text": true, "yaml": true, "json": true, "rego": true, "go": true}

// skipMarker, on the line before an sh fence, keeps the doc test from
// running it, with the reason: `<!-- doc-test: skip: needs a real cluster -->`.
var skipMarker = regexp.MustCompile(`^<!-- doc-test: skip: (\S.*) -->$`)

// fileMarker, on the line before a fence, says the fence shows a file of the
// repository, which it must equal: `<!-- file: examples/policies/placement.rego -->`.
var fileMarker = regexp.MustCompile(`^<!-- file: (\S+) -->$`)

// markdownFiles are the repository's documents, relative to its root, in the
// order a newcomer reads them: the README, getting started, the rest of docs/,
// SECURITY.
func markdownFiles(root string) ([]string, error) {
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		return nil, err
	}
	sort.Strings(docs)
	files := []string{"README.md", "docs/getting-started.md"}
	for _, d := range docs {
		rel, err := filepath.Rel(root, d)
		if err != nil {
			return nil, err
		}
		if rel != "docs/getting-started.md" {
			files = append(files, rel)
		}
	}
	return append(files, "SECURITY.md"), nil
}

// fences reads a Markdown file's fenced blocks. A fence without a language,
// with one the docs do not use, left open, or a skip marker before anything
// but an sh fence is an error naming the line.
func fences(root, file string) ([]fence, error) {
	f, err := os.Open(filepath.Join(root, file))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		out  []fence
		open *fence
		body []string
		prev string
		n    int
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case open != nil && trimmed == "```":
			open.text = strings.Join(body, "\n") + "\n"
			out = append(out, *open)
			open, body = nil, nil
		case open != nil:
			body = append(body, line)
		case strings.HasPrefix(trimmed, "```"):
			info := strings.Fields(strings.TrimPrefix(trimmed, "```"))
			if len(info) == 0 {
				return nil, fmt.Errorf("%s:%d: a fence without a language: write ```sh for commands a user types (the doc test runs them), ```text for output", file, n)
			}
			if !languages[info[0]] {
				return nil, fmt.Errorf("%s:%d: fence language %q: use sh for commands (the doc test runs them), text for output, or one of yaml, json, rego, go", file, n, info[0])
			}
			open = &fence{file: file, line: n, lang: info[0]}
			if m := skipMarker.FindStringSubmatch(prev); m != nil {
				if info[0] != "sh" {
					return nil, fmt.Errorf("%s:%d: a doc-test skip marker before a %s fence: only sh fences run", file, n, info[0])
				}
				open.skip = m[1]
			}
			if m := fileMarker.FindStringSubmatch(prev); m != nil {
				open.shows = m[1]
			}
		case strings.HasPrefix(trimmed, "<!-- doc-test") && !skipMarker.MatchString(trimmed):
			return nil, fmt.Errorf("%s:%d: a doc-test marker reads <!-- doc-test: skip: REASON -->", file, n)
		}
		if trimmed != "" {
			prev = trimmed
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if open != nil {
		return nil, fmt.Errorf("%s:%d: a fence that is never closed", file, open.line)
	}
	return out, nil
}

// Every fence of the documents names its language, so that no command a
// user would type escapes the doc test by being left unmarked; the parser
// refuses what it should.
func TestFencesNameTheirLanguage(t *testing.T) {
	files, err := markdownFiles("..")
	if err != nil {
		t.Fatal(err)
	}
	commands := 0
	for _, file := range files {
		fs, err := fences("..", file)
		if err != nil {
			t.Error(err)
			continue
		}
		for _, f := range fs {
			if f.lang == "sh" {
				commands++
			}
		}
	}
	if commands == 0 {
		t.Fatal("the documents hold no sh fence: the doc test would run nothing")
	}
	dir := t.TempDir()
	for name, doc := range map[string]string{
		"no language":      "text\n```\nfly pipelines\n```\n",
		"bash":             "```bash\nfly pipelines\n```\n",
		"never closed":     "```sh\nfly pipelines\n",
		"marker on yaml":   "<!-- doc-test: skip: why -->\n```yaml\na: 1\n```\n",
		"marker no reason": "<!-- doc-test: skip -->\n```sh\nmake test\n```\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, "x.md"), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := fences(dir, "x.md"); err == nil {
			t.Errorf("%s: fences accepted %q", name, doc)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "x.md"), []byte("<!-- doc-test: skip: needs a real cluster -->\n\n```sh\nkubectl get pods\n```\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fs, err := fences(dir, "x.md")
	if err != nil || len(fs) != 1 || fs[0].skip != "needs a real cluster" || fs[0].text != "kubectl get pods\n" || fs[0].line != 3 {
		t.Errorf("a marked block: %+v, %v", fs, err)
	}
}

// A fence that shows a file of the repository shows it as it is.
func TestShownFilesAreCurrent(t *testing.T) {
	files, err := markdownFiles("..")
	if err != nil {
		t.Fatal(err)
	}
	shown := 0
	for _, file := range files {
		fs, err := fences("..", file)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if f.shows == "" {
				continue
			}
			shown++
			want, err := os.ReadFile(filepath.Join("..", f.shows))
			if err != nil {
				t.Errorf("%s:%d: shows %s: %v", f.file, f.line, f.shows, err)
				continue
			}
			if f.text != string(want) {
				t.Errorf("%s:%d: the block is not %s as it is now: copy the file into it", f.file, f.line, f.shows)
			}
		}
	}
	if shown == 0 {
		t.Fatal("no fence shows a file: the check read nothing")
	}
}

package redact

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	secret := "s3cr3t/p@ss word"
	r := New([]string{secret, "multi\n  line-two  \nx\n", "a"})
	for _, c := range []struct{ in, want string }{
		{"pw=" + secret + ".", "pw=((redacted))."},
		{base64.StdEncoding.EncodeToString([]byte(secret)), Mask},
		{"b64url " + base64.RawURLEncoding.EncodeToString([]byte(secret)), "b64url " + Mask},
		{hex.EncodeToString([]byte(secret)), Mask},
		{strings.ToUpper(hex.EncodeToString([]byte(secret))), Mask},
		{"?q=" + url.QueryEscape(secret), "?q=" + Mask},
		{"/" + url.PathEscape(secret), "/" + Mask},
		{"first multi then line-two", "first ((redacted)) then ((redacted))"},
		{"x a x", "x a x"}, // lines of one byte are not secrets
		{"nothing here", "nothing here"},
		{secret + secret, Mask + Mask},
	} {
		if got := r.Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := (*Redactor)(nil).Redact(secret); got != secret {
		t.Errorf("a nil Redactor changed %q to %q", secret, got)
	}
}

type collect struct{ lines []string }

func (c *collect) Line(source, text string) { c.lines = append(c.lines, source+":"+text) }

func TestWriterAcrossPieces(t *testing.T) {
	secret := "correct-horse-battery-staple"
	for cut := 1; cut < len(secret); cut++ {
		var c collect
		w := NewWriter(&c, New([]string{secret}))
		// A long line reaches the writer in pieces, cut inside the secret.
		w.Line("stdout", "head "+secret[:cut])
		w.Line("stdout", secret[cut:]+" tail")
		w.Line("stderr", "other "+secret+"\n")
		w.Flush()
		got := strings.Join(c.lines, "|")
		if strings.Contains(got, secret[:max(cut, len(secret)-cut)]) || strings.Count(got, Mask) != 2 {
			t.Fatalf("cut at %d: %q", cut, got)
		}
		var stdout strings.Builder
		for _, l := range c.lines {
			if s, ok := strings.CutPrefix(l, "stdout:"); ok {
				stdout.WriteString(s)
			}
		}
		if stdout.String() != "head "+Mask+" tail" {
			t.Fatalf("cut at %d: stdout %q", cut, stdout.String())
		}
	}
}

func BenchmarkRedact100Secrets(b *testing.B) {
	var secrets []string
	for i := range 100 {
		secrets = append(secrets, fmt.Sprintf("secret-value-%03d-%x", i, i*7919))
	}
	r := New(secrets)
	var log strings.Builder
	for log.Len() < 1<<20 {
		fmt.Fprintf(&log, "2026-12-06T10:00:00Z step %d: compiling package example.com/module/pkg%d ... ok (%d ms)\n", log.Len(), log.Len()%97, log.Len()%1000)
	}
	text := log.String() + secrets[50]
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for range b.N {
		if out := r.Redact(text); !strings.HasSuffix(out, Mask) {
			b.Fatal("secret not redacted")
		}
	}
}

// Without secrets, output passes as it comes, pieces of lines too.
func TestWriterWithoutSecrets(t *testing.T) {
	if New(nil) != nil {
		t.Error("New without values made a table")
	}
	for _, r := range []*Redactor{nil, New(nil), New([]string{"", "x"})} {
		var c collect
		w := NewWriter(&c, r)
		w.Line("stdout", "no newline")
		w.Line("stdout", " yet\n")
		w.Flush()
		if got := strings.Join(c.lines, "|"); got != "stdout:no newline|stdout: yet\n" {
			t.Errorf("got %q", got)
		}
	}
}

// Whatever the output and however it is cut, the writer never panics and
// never passes a secret on.
func FuzzWriter(f *testing.F) {
	f.Add("s3cret", "a s3c", "ret b\nc", 3)
	f.Add("ab", "", "ab", 0)
	f.Fuzz(func(t *testing.T, secret, a, b string, cut int) {
		secret = strings.TrimSpace(secret)
		if len(secret) < 2 || strings.ContainsAny(secret, "\n()") {
			return
		}
		text := a + b
		if cut < 0 || cut > len(text) {
			cut = len(text) / 2
		}
		var c collect
		w := NewWriter(&c, New([]string{secret}))
		w.Line("stdout", text[:cut])
		w.Line("stdout", text[cut:])
		w.Flush()
		var out strings.Builder
		for _, l := range c.lines {
			out.WriteString(strings.TrimPrefix(l, "stdout:"))
		}
		for _, piece := range strings.Split(out.String(), Mask) {
			if !strings.Contains(piece, secret) {
				continue
			}
			t.Fatalf("secret %q passed in %q (from %q cut at %d)", secret, out.String(), text, cut)
		}
	})
}

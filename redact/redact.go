package redact

import (
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"sort"
	"strings"
)

// Mask is what a secret becomes.
const Mask = "((redacted))"

// Redactor finds secrets in text. Its zero value and nil redact nothing.
type Redactor struct {
	// byPair lists, for the first two bytes of some secret, the secrets
	// that start with them, longest first; seen says which pairs have any,
	// so most bytes cost one bit test.
	byPair map[uint16][]string
	seen   [1 << 16 / 64]uint64
	maxLen int
}

// New makes a Redactor of the values: each line of each, trimmed, and its
// encoded forms. Lines of one byte or less are not secrets. Without
// values it is nil (which redacts nothing): most steps have none, and a
// Redactor's table is 8 KiB.
func New(values []string) *Redactor {
	if len(values) == 0 {
		return nil
	}
	r := &Redactor{byPair: map[uint16][]string{}}
	have := map[string]bool{}
	for _, v := range values {
		for _, line := range strings.Split(v, "\n") {
			line = strings.TrimSpace(line)
			if len(line) <= 1 {
				continue
			}
			for _, form := range forms(line) {
				if len(form) > 1 && !have[form] {
					have[form] = true
					r.add(form)
				}
			}
		}
	}
	for k := range r.byPair {
		ps := r.byPair[k]
		sort.Slice(ps, func(i, j int) bool { return len(ps[i]) > len(ps[j]) })
	}
	return r
}

// forms are a secret as written and as commonly encoded.
func forms(s string) []string {
	b := []byte(s)
	out := []string{s,
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
		hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
		url.QueryEscape(s), url.PathEscape(s),
	}
	return out
}

func (r *Redactor) add(p string) {
	k := pair(p[0], p[1])
	r.byPair[k] = append(r.byPair[k], p)
	r.seen[k/64] |= 1 << (k % 64)
	r.maxLen = max(r.maxLen, len(p))
}

func pair(a, b byte) uint16 { return uint16(a)<<8 | uint16(b) }

// match finds the longest secret at s[i:], or returns 0.
func (r *Redactor) match(s string, i int) int {
	k := pair(s[i], s[i+1])
	if r.seen[k/64]&(1<<(k%64)) == 0 {
		return 0
	}
	for _, p := range r.byPair[k] {
		if strings.HasPrefix(s[i:], p) {
			return len(p)
		}
	}
	return 0
}

// Redact returns s with every secret replaced by Mask.
func (r *Redactor) Redact(s string) string {
	if r == nil || r.maxLen == 0 || len(s) < 2 {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s)-1; i++ {
		if n := r.match(s, i); n > 0 {
			if last == 0 {
				b.Grow(len(s))
			}
			b.WriteString(s[last:i])
			b.WriteString(Mask)
			i += n - 1
			last = i + 1
		}
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// safeCut is where s may be cut so that no secret is split and the rest is
// matched as it would be in s: at most the longest secret's length less one
// byte from the end, moved past a secret that spans it. Secrets are found
// from the start, as Redact finds them, so the cut falls between matches.
func (r *Redactor) safeCut(s string) int {
	if r == nil || r.maxLen == 0 {
		return len(s)
	}
	cut := len(s) - (r.maxLen - 1)
	if cut <= 0 {
		return 0
	}
	for i := 0; i < cut && i < len(s)-1; i++ {
		if n := r.match(s, i); n > 0 {
			if i+n > cut {
				return i + n
			}
			i += n - 1
		}
	}
	return cut
}

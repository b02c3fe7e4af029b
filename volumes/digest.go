package volumes

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// Digest names an artifact by content: "sha256:" and the hex SHA-256 of its
// compressed stream.
type Digest string

const digestPrefix = "sha256:"

// ParseDigest checks that s is a digest this package makes.
func ParseDigest(s string) (Digest, error) {
	hexPart, ok := strings.CutPrefix(s, digestPrefix)
	if !ok || len(hexPart) != 2*sha256.Size {
		return "", fmt.Errorf("artifact digest %q is not sha256:<64 hex digits>", s)
	}
	if _, err := hex.DecodeString(hexPart); err != nil || strings.ToLower(hexPart) != hexPart {
		return "", fmt.Errorf("artifact digest %q is not sha256:<64 lower-case hex digits>", s)
	}
	return Digest(s), nil
}

// Hex is the digest without its algorithm.
func (d Digest) Hex() string { return strings.TrimPrefix(string(d), digestPrefix) }

// Digester hashes and counts what is written through it: the digest and
// size of a stream as it passes.
type Digester struct {
	h hash.Hash
	n int64
}

func NewDigester() *Digester { return &Digester{h: sha256.New()} }

func (c *Digester) Write(p []byte) (int, error) {
	c.h.Write(p)
	c.n += int64(len(p))
	return len(p), nil
}

// Digest is the digest of what was written so far.
func (c *Digester) Digest() Digest { return Digest(digestPrefix + hex.EncodeToString(c.h.Sum(nil))) }

// Size is how many bytes were written.
func (c *Digester) Size() int64 { return c.n }

// DigestError says an artifact's bytes do not match its digest.
type DigestError struct {
	Artifact string
	Want     Digest
	Got      Digest
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("artifact %s is corrupt: expected digest %s, got %s; the object in storage was changed or damaged, so run the step that produced it again", e.Artifact, e.Want, e.Got)
}

// HumanBytes writes a size as people read it: 12.3 MiB.
func HumanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"time"
)

// Claims are what the hub knows of a token's bearer.
type Claims struct {
	User      string   `json:"user"`
	Connector string   `json:"connector"`
	Groups    []string `json:"groups,omitempty"`
	Expiry    int64    `json:"exp"`
}

// Tokens are Concourse's opaque access tokens: base64 (standard alphabet,
// no padding) of 20 random bytes and the expiry as a little-endian uint64
// of Unix seconds, which stock fly decodes to show it in fly targets. The
// hub keeps each token's claims under the token's hash; a token is valid
// while that row exists and its expiry has not passed, so revoking one is
// deleting its row.
const tokenBytes = 28

// NewToken makes a token that expires at exp.
func NewToken(exp time.Time) (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b[:20]); err != nil {
		return "", err
	}
	binary.LittleEndian.PutUint64(b[20:], uint64(exp.Unix()))
	return base64.RawStdEncoding.EncodeToString(b), nil
}

// ErrBadToken is a token the hub could not have issued.
var ErrBadToken = errors.New("invalid token")

// TokenExpiry reads a token's expiry without looking it up: a token that
// is malformed or past it need not be.
func TokenExpiry(token string) (time.Time, error) {
	b, err := base64.RawStdEncoding.DecodeString(token)
	if err != nil || len(b) != tokenBytes {
		return time.Time{}, ErrBadToken
	}
	return time.Unix(int64(binary.LittleEndian.Uint64(b[20:])), 0), nil
}

// TokenHash is what the hub stores of a token: a leaked table grants
// nothing.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

package signin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// State is what a sign-in carries through the provider.
type State struct {
	FlyPort  int    `json:"p,omitempty"` // fly login's local port (0: a browser sign-in)
	Redirect string `json:"r,omitempty"` // where a browser goes after (a path on the hub)
	Nonce    string `json:"n"`
	Verifier string `json:"v"` // PKCE
	Expiry   int64  `json:"e"`
}

// NewState makes a state with a fresh nonce and verifier, valid ten minutes.
func NewState(flyPort int, redirect string, now time.Time) State {
	return State{FlyPort: flyPort, Redirect: redirect, Nonce: random(), Verifier: random() + random(), Expiry: now.Add(10 * time.Minute).Unix()}
}

func random() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Seal signs a state with key.
func (s State) Seal(key []byte) string {
	body, _ := json.Marshal(s)
	part := base64.RawURLEncoding.EncodeToString(body)
	return part + "." + base64.RawURLEncoding.EncodeToString(mac(key, part))
}

func mac(key []byte, part string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(part))
	return m.Sum(nil)
}

// ErrState is a state the hub did not make, or one too old.
var ErrState = errors.New("the sign-in's state is not one this hub made, or it is over ten minutes old: sign in again")

// OpenState checks and reads a sealed state.
func OpenState(key []byte, sealed string, now time.Time) (State, error) {
	part, sig, ok := strings.Cut(sealed, ".")
	if !ok || len(sealed) > 4096 {
		return State{}, ErrState
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(key, part)) {
		return State{}, ErrState
	}
	body, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return State{}, ErrState
	}
	var s State
	if err := json.Unmarshal(body, &s); err != nil || now.Unix() > s.Expiry || s.Nonce == "" {
		return State{}, ErrState
	}
	return s, nil
}

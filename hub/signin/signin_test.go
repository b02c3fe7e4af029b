package signin

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A state comes back only as the hub sealed it, within ten minutes: a
// forged, altered, stale, foreign or huge one is refused.
func TestState(t *testing.T) {
	key, other := []byte("hub key"), []byte("another hub's key")
	now := time.Unix(1_800_000_000, 0)
	st := NewState(43657, "", now)
	sealed := st.Seal(key)
	got, err := OpenState(key, sealed, now.Add(9*time.Minute))
	if err != nil || got.FlyPort != 43657 || got.Nonce != st.Nonce || got.Verifier != st.Verifier {
		t.Fatalf("open: %+v %v", got, err)
	}
	part, sig, _ := strings.Cut(sealed, ".")
	body, _ := base64.RawURLEncoding.DecodeString(part)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	m["p"] = 1 // send the token to another port
	altered, _ := json.Marshal(m)
	for name, s := range map[string]string{
		"stale":         sealed,
		"another hub's": st.Seal(other),
		"altered":       base64.RawURLEncoding.EncodeToString(altered) + "." + sig,
		"no signature":  part,
		"bad signature": part + ".AAAA",
		"garbage":       "!!!.###",
		"huge":          strings.Repeat("a", 5000) + "." + sig,
		"empty":         "",
		"no nonce":      State{Expiry: now.Add(time.Hour).Unix()}.Seal(key),
	} {
		at := now.Add(time.Minute)
		if name == "stale" {
			at = now.Add(11 * time.Minute)
		}
		if _, err := OpenState(key, s, at); err != ErrState {
			t.Errorf("%s state: %v, want ErrState", name, err)
		}
	}
	if a, b := NewState(0, "", now), NewState(0, "", now); a.Nonce == b.Nonce || a.Verifier == b.Verifier {
		t.Error("two states share a nonce or verifier")
	}
}

// Group claims come as a list of names, of {name} objects, or one name;
// anything else gives none.
func TestGroups(t *testing.T) {
	for _, c := range []struct {
		claim any
		want  string
	}{
		{[]any{"Devs", "ops"}, "[devs ops]"},
		{[]any{map[string]any{"name": "Platform"}, 3, nil}, "[platform]"},
		{"Solo", "[solo]"},
		{42, "[]"},
		{nil, "[]"},
	} {
		if got := fmt.Sprint(groups(c.claim)); got != c.want {
			t.Errorf("groups(%v) = %s, want %s", c.claim, got, c.want)
		}
	}
}

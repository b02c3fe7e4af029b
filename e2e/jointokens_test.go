package e2e

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/wire"
)

// joinStatus is the hub's answer to a spoke joining with token.
func joinStatus(t *testing.T, f *fleet, name, token string) int {
	t.Helper()
	resp, err := authed(t.Context(), http.MethodPost, f.url+wire.PathJoin, "", `{"name": "`+name+`", "token": "`+token+`", "runtime": "local"}`)
	if err != nil {
		t.Fatal(err)
	}
	return resp.code
}

// tokenFrom is the token fly create-join-token or rotate-join-token printed.
func tokenFrom(t *testing.T, out string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "syjt_") {
			return line
		}
	}
	t.Fatalf("no token in:\n%s", out)
	return ""
}

// Join tokens made, listed, rotated and revoked at run time with fly, for a
// team and for the pool: a spoke joins with one into its team; a rotated or
// revoked or expired token joins no more; the hub never shows a token again.
// A spoke's credential revoked disconnects it: it goes stalled.
func TestJoinTokensAtRunTime(t *testing.T) {
	f := newFleetOf(t, bin, "", []string{"--spoke-lease", "3s"})
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret")

	team := tokenFrom(t, f.mustFly("create-join-token", "-n", "ci"))
	pool := tokenFrom(t, f.mustFly("create-join-token", "-n", "ci", "--pool"))
	if out, code := f.fly("create-join-token", "-n", "ci"); code == 0 || !strings.Contains(out, "join token ci exists") {
		t.Errorf("a second token of a name (exit %d):\n%s", code, out)
	}
	f.startSpoke("rt-team", f.url, "--join-token", team)
	f.startSpoke("rt-pool", f.url, "--join-token", pool)
	for deadline := time.Now().Add(time.Minute); ; {
		out := f.mustFly("workers")
		if strings.Contains(out, "rt-team") && strings.Contains(out, "rt-pool") {
			if !regexpLine(out, `rt-team .* main `) || !regexpLine(out, `rt-pool .* none `) {
				t.Errorf("the spokes' teams:\n%s", out)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the spokes did not join with run-time tokens within a minute:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out := f.mustFly("join-tokens") + f.mustFly("join-tokens", "--pool"); strings.Contains(out, "syjt_") || strings.Count(out, "ci ") < 2 {
		t.Errorf("the lists show a token, or miss one:\n%s", out)
	}

	rotated := tokenFrom(t, f.mustFly("rotate-join-token", "-n", "ci", "--pool"))
	if code := joinStatus(t, f, "rt-old", pool); code != 401 {
		t.Errorf("the rotated-out token joined: %d", code)
	}
	if code := joinStatus(t, f, "rt-new", rotated); code != 200 {
		t.Errorf("the rotated token did not join: %d", code)
	}
	f.mustFly("revoke-join-token", "-n", "ci")
	if code := joinStatus(t, f, "rt-revoked", team); code != 401 {
		t.Errorf("a revoked token joined: %d", code)
	}
	brief := tokenFrom(t, f.mustFly("create-join-token", "-n", "brief", "--expires-in", "1s"))
	time.Sleep(1500 * time.Millisecond)
	if code := joinStatus(t, f, "rt-late", brief); code != 401 {
		t.Errorf("an expired token joined: %d", code)
	}
	if out := f.mustFly("join-tokens"); !strings.Contains(out, "(expired)") {
		t.Errorf("the list does not say the token expired:\n%s", out)
	}
	if out, code := f.fly("create-join-token", "-n", "../x"); code == 0 || !strings.Contains(out, "join token name") {
		t.Errorf("a hostile token name (exit %d):\n%s", code, out)
	}
	for _, d := range []string{"-1h", "0s", "100000h", "soon"} {
		if out, code := f.fly("create-join-token", "-n", "odd", "--expires-in", d); code == 0 || !strings.Contains(out, "expires_in") {
			t.Errorf("a token expiring in %s (exit %d):\n%s", d, code, out)
		}
	}
	admin := f.token()
	if resp, err := authed(t.Context(), http.MethodPost, f.url+"/api/v1/join-tokens", admin, `{"name": "big", "expires_in": "`+strings.Repeat("9", 8<<10)+`h"}`); err != nil || resp.code != 400 {
		t.Errorf("an oversized body: %v %+v", err, resp)
	}
	for _, path := range []string{"/api/v1/workers/..%2F..%2Fapi%2Fv1%2Finfo/land", "/api/v1/workers/rt-pool%00/credential"} {
		method := http.MethodPut
		if strings.HasSuffix(path, "/credential") {
			method = http.MethodDelete
		}
		if resp, err := authed(t.Context(), method, f.url+path, admin, ""); err != nil || resp.code != 404 {
			t.Errorf("%s %s: %v %+v, want 404", method, path, err, resp)
		}
	}

	// The team spoke's credential revoked: it is disconnected, so stalled.
	f.mustFly("revoke-worker-credential", "-w", "rt-team")
	for deadline := time.Now().Add(time.Minute); ; {
		out := f.mustFly("workers")
		if regexpLine(out, `rt-team .* stalled `) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a spoke whose credential was revoked is not stalled after a minute:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// regexpLine says whether a line of out matches pattern.
func regexpLine(out, pattern string) bool {
	re := regexp.MustCompile(pattern)
	for _, line := range strings.Split(out, "\n") {
		if re.MatchString(line + " ") {
			return true
		}
	}
	return false
}

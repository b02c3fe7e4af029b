package gateway_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard-ci/switchyard/hub/gateway"
	"github.com/switchyard-ci/switchyard/hub/intercept"
	"github.com/switchyard-ci/switchyard/hub/notify"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
	"github.com/switchyard-ci/switchyard/volumes"
	"github.com/switchyard-ci/switchyard/wire"
)

type noWaker struct{}

func (noWaker) Wake(int64)                                               {}
func (noWaker) StepEnded(int64, int64, store.StepState, json.RawMessage) {}

func newGateway(t *testing.T) *httptest.Server {
	t.Helper()
	bucket, err := volumes.OpenBucket(t.Context(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bucket.Close() })
	g, err := gateway.New(t.Context(), gateway.Config{SpokeTokens: map[string]string{"pool-token": ""}, Artifacts: bucket}, storetest.New(t), noWaker{},
		notify.New(), &intercept.Broker{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(g)
	t.Cleanup(hs.Close)
	return hs
}

func call(t *testing.T, method, url, credential string, body any) (int, string) {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(raw))
	if credential != "" {
		req.Header.Set("Authorization", "Bearer "+credential)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// Every spoke route but the join and the signed blob URLs wants a spoke's
// credential: none, or one no spoke has, gets 401; a join with a token the
// hub does not know gets 401 too, and a known token a credential that then
// works.
func TestSpokeRoutesNeedACredential(t *testing.T) {
	hs := newGateway(t)
	paths := map[string]string{
		wire.PathHeartbeat: "POST", wire.PathSteps: "GET", strings.Replace(wire.PathLogs, "{id}", "1", 1): "POST",
		strings.Replace(wire.PathResult, "{id}", "1", 1): "POST", strings.Replace(wire.PathIntercept, "{id}", "1", 1): "GET",
		strings.Replace(wire.PathArtifacts, "{id}", "1", 1): "POST",
	}
	for path, method := range paths {
		for _, cred := range []string{"", "not-a-credential"} {
			if code, body := call(t, method, hs.URL+path, cred, map[string]any{}); code != http.StatusUnauthorized {
				t.Errorf("%s %s with credential %q: %d %s, want 401", method, path, cred, code, body)
			}
		}
	}
	if code, body := call(t, "POST", hs.URL+wire.PathJoin, "", wire.JoinRequest{Name: "s1", Token: "wrong"}); code != http.StatusUnauthorized {
		t.Errorf("join with an unknown token: %d %s, want 401", code, body)
	}
	code, body := call(t, "POST", hs.URL+wire.PathJoin, "", wire.JoinRequest{Name: "s1", Token: "pool-token", Runtime: "local"})
	var joined wire.JoinResponse
	if code != http.StatusOK || json.Unmarshal([]byte(body), &joined) != nil || joined.Credential == "" {
		t.Fatalf("join: %d %s", code, body)
	}
	if code, body := call(t, "POST", hs.URL+wire.PathHeartbeat, joined.Credential, wire.Heartbeat{}); code != http.StatusOK || !strings.Contains(body, `"state":"running"`) {
		t.Errorf("heartbeat with the spoke's credential: %d %s, want 200 and the spoke's state", code, body)
	}
	for _, q := range []string{"expires=1&sig=x", "expires=99999999999&sig=x", ""} {
		if code, body := call(t, "GET", hs.URL+wire.PathBlobs+"1/sha256/x?"+q, "", nil); code != http.StatusForbidden {
			t.Errorf("a blob URL the hub did not sign (%q): %d %s, want 403", q, code, body)
		}
	}
}

// A spoke that joins again gets a new credential, and the old one stops
// working at once, though the gateway had just seen it (it keeps credentials
// it saw for a moment).
func TestRejoinRetiresTheOldCredential(t *testing.T) {
	hs := newGateway(t)
	join := func(previous string) string {
		t.Helper()
		code, body := call(t, "POST", hs.URL+wire.PathJoin, "", wire.JoinRequest{Name: "s1", Token: "pool-token", Runtime: "local", Credential: previous})
		var joined wire.JoinResponse
		if code != http.StatusOK || json.Unmarshal([]byte(body), &joined) != nil || joined.Credential == "" {
			t.Fatalf("join: %d %s", code, body)
		}
		return joined.Credential
	}
	old := join("")
	if code, body := call(t, "POST", hs.URL+wire.PathHeartbeat, old, wire.Heartbeat{}); code != http.StatusOK {
		t.Fatalf("heartbeat with the first credential: %d %s", code, body)
	}
	fresh := join(old)
	if fresh == old {
		t.Fatal("the rejoin kept the old credential")
	}
	if code, body := call(t, "POST", hs.URL+wire.PathHeartbeat, old, wire.Heartbeat{}); code != http.StatusUnauthorized {
		t.Errorf("heartbeat with the replaced credential: %d %s, want 401", code, body)
	}
	if code, body := call(t, "POST", hs.URL+wire.PathHeartbeat, fresh, wire.Heartbeat{}); code != http.StatusOK {
		t.Errorf("heartbeat with the new credential: %d %s, want 200", code, body)
	}
}

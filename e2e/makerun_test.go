package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// make run as a newcomer takes it: hack/run.sh (what make run runs once
// the binaries are built) starts PostgreSQL, a hub and a spoke, runs the
// example build green and prints where the web UI is and how to sign in;
// that page, signed in as it says, shows the example's job succeeded.
func TestMakeRunShowsTheExampleBuild(t *testing.T) {
	state := t.TempDir()
	// PostgreSQL runs as the postgres user, who must reach its data.
	for _, dir := range []string{filepath.Dir(state), state} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "SWITCHYARD_STATE="+state, "SWITCHYARD_BIN="+bin, "SWITCHYARD_LISTEN="+freeAddr(t))
	t.Cleanup(func() {
		stop := exec.Command("../hack/stop.sh")
		stop.Env = env
		if out, err := stop.CombinedOutput(); err != nil {
			t.Errorf("hack/stop.sh: %v\n%s", err, out)
		}
	})
	run := exec.CommandContext(t.Context(), "../hack/run.sh")
	run.Env = env
	out, err := run.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "succeeded") {
		t.Fatalf("hack/run.sh: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`The web UI: (http://\S+) \(sign in as (\S+), password (\S+)\)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("make run does not say where the web UI is:\n%s", out)
	}
	ctx := chromium(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(m[1]), chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), m[2]), chromedp.SendKeys(chromedp.CSS("#password"), strings.TrimSuffix(m[3], ");")),
		chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#job-hello"))); err != nil {
		t.Fatalf("the UI at %s: %v", m[1], err)
	}
	poll(t, ctx, "the example's job shows succeeded", `document.getElementById("job-hello").getAttribute("class").includes("succeeded")`, 30*time.Second)
	screenshot(t, ctx, "make-run")
}

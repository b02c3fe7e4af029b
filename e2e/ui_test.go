package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// EnvChromium names the variable that holds the browser the UI tests drive
// (hack/with-chromium.sh installs Debian's chromium and sets it).
const EnvChromium = "SWITCHYARD_TEST_CHROMIUM"

// chromium starts headless Chromium for the test and returns its context.
func chromium(t testing.TB) context.Context {
	t.Helper()
	exe := os.Getenv(EnvChromium)
	if exe == "" {
		t.Fatalf("%s is not set: run the tests with `make test` or under hack/with-chromium.sh", EnvChromium)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	ctx, timeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(timeout)
	return ctx
}

// screenshot writes the page as PNG for a person to look at (not
// committed): into $SWITCHYARD_SCREENSHOTS, or .screenshots at the
// repository's top.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("SWITCHYARD_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", ".screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// attrs reads an attribute of every element the CSS selector matches.
func attrs(t *testing.T, ctx context.Context, sel, name string) []string {
	t.Helper()
	all, err := chromedp.Run(ctx, chromedp.AttributesAll(chromedp.CSSAll(sel)))
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	var out []string
	for _, a := range all {
		out = append(out, a[name])
	}
	return out
}

// tabTo presses Tab until the element with the id has the focus.
func tabTo(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	for range 60 {
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatal(err)
		}
		if got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`)); got == id {
			return
		}
	}
	t.Fatalf("60 presses of Tab did not reach #%s", id)
}

// count is the number of elements the CSS selector matches now.
func count(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	return n
}

// text is the text of the first element the CSS selector matches.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	return strings.TrimSpace(v)
}

// poll waits until the JavaScript expression holds. A poll does not
// survive a navigation (a build page made before its plan reloads once as
// its steps begin): it starts again on the new page.
func poll(t *testing.T, ctx context.Context, what, expr string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline)), chromedp.WithPollingInterval(100*time.Millisecond)))
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "navigated or closed") || time.Now().After(deadline) {
			t.Fatalf("%s (%s): %v", what, expr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// In a real browser: sign in, see the pipeline on the dashboard, its graph
// with the config's jobs, resources and edges, trigger a job and watch its
// log stream to succeeded with the spoke it ran on, pin a version with a
// comment, and see the spoke on the fleet page.
func TestWebUIInABrowser(t *testing.T) {
	f := newFleet(t)
	f.startSpoke("ui-spoke", f.url)
	f.setPipeline("ui", `
resources:
- name: repo
  type: mock
  check_every: 1s
  source: {initial_version: v1}
- name: tools
  type: mock
  check_every: 1s
  source: {initial_version: t1, metadata: [{name: author, value: ada}]}
- name: release
  type: mock
  source: {no_initial_version: true}
jobs:
- name: build
  plan:
  - get: repo
    trigger: true
  - task: compile
    config:
      platform: linux
      run: {path: sh, args: [-c, "printf '\\033[32mcompiled\\033[0m ok\\n'"]}
- name: ship
  plan:
  - get: repo
    passed: [build]
  - get: tools
  - task: say
    config:
      platform: linux
      run: {path: sh, args: [-c, "echo shipping from the browser"]}
  - put: release
    params: {version: r1}
`)
	ctx := chromium(t)
	must := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }

	// A page that needs a session sends the browser to sign in, and back.
	must("sign in", chromedp.Navigate(f.url+"/teams/main/pipelines/ui"),
		chromedp.WaitVisible(css("#username")),
		chromedp.SendKeys(css("#username"), "admin"), chromedp.SendKeys(css("#password"), "secret"),
		chromedp.Submit(css("#password")), chromedp.WaitVisible(css("#graph")))
	// A job the keyboard gets to is marked with its edges.
	tabTo(t, ctx, "job-build")
	if n := count(t, ctx, "#graph path.edge.hl"); n != 2 {
		t.Errorf("focus on build marks %d edges, want its 2", n)
	}
	screenshot(t, ctx, "pipeline")
	audit(t, ctx, "pipeline")
	phoneFits(t, ctx, "pipeline")
	nodes := attrs(t, ctx, "#graph a.node", "id")
	slices.Sort(nodes)
	if want := []string{"job-build", "job-ship", "resource-release", "resource-repo", "resource-tools"}; !slices.Equal(nodes, want) {
		t.Errorf("graph nodes %q, want %q", nodes, want)
	}
	from, to := attrs(t, ctx, "#graph path.edge", "data-from"), attrs(t, ctx, "#graph path.edge", "data-to")
	var edges []string
	for i := range from {
		edges = append(edges, from[i]+">"+to[i])
	}
	slices.Sort(edges)
	if want := []string{"job-build>job-ship", "job-ship>resource-release", "resource-repo>job-build", "resource-tools>job-ship"}; !slices.Equal(edges, want) {
		t.Errorf("graph edges %q, want %q", edges, want)
	}
	if dashed := attrs(t, ctx, "#graph path.trigger-false", "data-to"); len(dashed) != 2 {
		t.Errorf("edges of gets that do not trigger: %q, want the two into ship", dashed)
	}

	// The dashboard: instanced pipelines of one name make one card, whose
	// link lists them; pause from a card; a favourite stays on top.
	inst := filepath.Join(f.dir, "inst.yml")
	if err := os.WriteFile(inst, []byte("jobs:\n- name: j\n  plan:\n  - task: t\n    config: {platform: linux, run: {path: \"true\"}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, branch := range []string{"a", "b"} {
		f.mustFly("set-pipeline", "-n", "-p", "inst", "-i", "branch="+branch, "-c", inst)
	}
	f.mustFly("set-wall", "-m", "upgrade at noon: builds wait")
	card := `li.card[data-pipeline="ui"]`
	must("filter the jobs", chromedp.Navigate(f.url+"/teams/main/pipelines/ui?filter=ship"), chromedp.WaitVisible(css("#job-ship")))
	nodes = attrs(t, ctx, "#graph a.node", "id")
	slices.Sort(nodes)
	if want := []string{"job-ship", "resource-release", "resource-repo", "resource-tools"}; !slices.Equal(nodes, want) {
		t.Errorf("graph nodes filtered to ship: %q, want %q", nodes, want)
	}

	must("dashboard", chromedp.Navigate(f.url+"/"), chromedp.WaitVisible(css(card)),
		chromedp.WaitVisible(css("#user")))
	screenshot(t, ctx, "dashboard")
	if wall := text(t, ctx, "#wall"); !strings.Contains(wall, "upgrade at noon: builds wait") {
		t.Errorf("the wall's message on the dashboard: %q", wall)
	}
	f.mustFly("clear-wall")
	audit(t, ctx, "dashboard")
	phoneFits(t, ctx, "dashboard")
	if n := count(t, ctx, `li.card.group[data-group="inst"] li[data-instance-id]`); n != 2 {
		t.Errorf("the instance group's card shows %d instances, want 2", n)
	}
	must("an instance group", chromedp.Click(css(`li.card.group[data-group="inst"] > a`)), chromedp.WaitVisible(css(`li.card[data-pipeline="inst"][data-pipeline-id]`)))
	if n, others := count(t, ctx, `li.card[data-pipeline="inst"] .vars`), count(t, ctx, `li.card[data-pipeline="ui"]`); n != 2 || others != 0 {
		t.Errorf("the group's search shows %d instances (want 2) and %d other pipelines", n, others)
	}
	must("pause from the dashboard", chromedp.Navigate(f.url+"/"), chromedp.Click(css(card+" button.pause")),
		chromedp.WaitVisible(css(card+" button.unpause")))
	if out := f.asAdminGet("/api/v1/teams/main/pipelines/ui"); !strings.Contains(out, `"paused":true`) {
		t.Errorf("paused from the dashboard, the API says:\n%s", out)
	}
	must("unpause from the dashboard", chromedp.Click(css(card+" button.unpause")), chromedp.WaitVisible(css(card+" button.pause")))
	must("favourite", chromedp.Click(css(card+" button.fav")), chromedp.WaitVisible(css("#favourites "+card)),
		chromedp.Reload(), chromedp.WaitVisible(css("#favourites "+card)))
	must("high density", chromedp.Navigate(f.url+"/hd"), chromedp.WaitVisible(css(".cards.hd "+card)))
	screenshot(t, ctx, "dashboard-hd")
	audit(t, ctx, "dashboard-hd")

	// Trigger build from its job page with the keyboard only; its build
	// page streams the log.
	must("job page", chromedp.Navigate(f.url+"/teams/main/pipelines/ui/jobs/build"), chromedp.WaitVisible(css("#trigger")))
	screenshot(t, ctx, "job")
	audit(t, ctx, "job")
	tabTo(t, ctx, "trigger")
	must("watch the build", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(css("#steps")))
	poll(t, ctx, "the build succeeds", `document.getElementById("build-status").textContent === "succeeded"`, 2*time.Minute)
	poll(t, ctx, "the log streams", `[...document.querySelectorAll(".log")].some(l => l.textContent.includes("compiled"))`, time.Minute)
	poll(t, ctx, "the task's spoke is shown", `[...document.querySelectorAll(".step .spoke")].some(s => s.textContent === "ui-spoke")`, time.Minute)
	status, log := text(t, ctx, "#build-status"), text(t, ctx, "#steps")
	screenshot(t, ctx, "build")
	audit(t, ctx, "build")
	phoneFits(t, ctx, "build")
	if status != "succeeded" || !strings.Contains(log, "compiled ok") {
		t.Errorf("the build page: status %q, log:\n%s", status, log)
	}
	green, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(".log .a32").length`))
	if err != nil || green == 0 {
		t.Error("the log's ANSI green is not shown as colour")
	}
	buildID := attrs(t, ctx, "#steps", "data-build")[0]
	must("comment on the build", chromedp.Click(css("details.edit-comment summary")),
		chromedp.SetValue(css("#comment-text"), "green after the fix"), chromedp.Click(css("#save-build-comment")),
		chromedp.WaitVisible(css("#comment")))
	if got := text(t, ctx, "#comment"); !strings.Contains(got, "green after the fix") {
		t.Errorf("the build's comment on its page: %q", got)
	}
	if out := f.asAdminGet("/api/v1/builds/" + buildID); !strings.Contains(out, `"comment":"green after the fix"`) {
		t.Errorf("the API does not show the build's comment:\n%s", out)
	}

	// Pin repo's version with a comment.
	res := f.url + "/teams/main/pipelines/ui/resources/repo"
	must("pin", chromedp.Navigate(res), chromedp.WaitVisible(css("button.pin-version")),
		chromedp.Click(css("button.pin-version")), chromedp.WaitVisible(css("#pinned")),
		chromedp.SetValue(css("#pin-comment-text"), "hold for the release"), chromedp.Click(css("#save-comment")),
		chromedp.WaitVisible(css("#pin-comment")))
	comment := text(t, ctx, "#pin-comment")
	screenshot(t, ctx, "resource")
	audit(t, ctx, "resource")
	if comment != "hold for the release" {
		t.Errorf("pin comment %q", comment)
	}
	if out := f.asAdminGet("/api/v1/teams/main/pipelines/ui/resources/repo"); !strings.Contains(out, `"pinned_version"`) || !strings.Contains(out, "hold for the release") {
		t.Errorf("the API does not show the pin:\n%s", out)
	}

	// The pipeline page follows what happens without a reload: ship, never
	// run, turns succeeded in its graph once fly runs it; so does the job
	// page's list of builds.
	must("pipeline again", chromedp.Navigate(f.url+"/teams/main/pipelines/ui"), chromedp.WaitVisible(css("#job-ship")))
	if class := attrs(t, ctx, "#job-ship", "class"); len(class) != 1 || !strings.Contains(class[0], "no-builds") {
		t.Fatalf("ship before it ran: %q", class)
	}
	f.mustFly("trigger-job", "-j", "ui/ship", "-w")
	poll(t, ctx, "the graph shows ship succeeded without a reload", `document.getElementById("job-ship").getAttribute("class").includes("succeeded")`, time.Minute)
	must("ship's job page", chromedp.Navigate(f.url+"/teams/main/pipelines/ui/jobs/ship"), chromedp.WaitVisible(css("#builds")))
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded = true`)); err != nil {
		t.Fatal(err)
	}
	rows := len(attrs(t, ctx, "#builds tbody tr.succeeded", "class"))
	f.mustFly("trigger-job", "-j", "ui/ship", "-w")
	poll(t, ctx, "the job page lists the new build without a reload", fmt.Sprintf(`window.notReloaded && document.querySelectorAll("#builds tbody tr.succeeded").length > %d`, rows), time.Minute)

	// A version's page part says which builds took it and which put it,
	// with what the resource said of it.
	must("tools' version", chromedp.Navigate(f.url+"/teams/main/pipelines/ui/resources/tools"), chromedp.Click(css("tr[id^=version-] summary")))
	poll(t, ctx, "tools' version lists ship as a build it went into", `[...document.querySelectorAll(".version-builds .input_to a")].some(a => a.textContent.startsWith("ship #"))`, 30*time.Second)
	if md := text(t, ctx, "dl.metadata"); !strings.Contains(md, "author") || !strings.Contains(md, "ada") {
		t.Errorf("tools' version's metadata: %q", md)
	}
	must("release's version", chromedp.Navigate(f.url+"/teams/main/pipelines/ui/resources/release"), chromedp.Click(css("tr[id^=version-] summary")))
	poll(t, ctx, "release's version came out of ship", `[...document.querySelectorAll(".version-builds .output_of a")].some(a => a.textContent.startsWith("ship #"))`, 30*time.Second)
	screenshot(t, ctx, "resource-version")

	must("fleet", chromedp.Navigate(f.url+"/fleet"), chromedp.WaitVisible(css(`tr[data-spoke="ui-spoke"]`)))
	screenshot(t, ctx, "fleet")
	audit(t, ctx, "fleet")
	phoneFits(t, ctx, "fleet")
}

// Signing in to the web UI through the OpenID provider: a page of a team
// whose role is given to a provider's group sends the browser to sign in,
// through Ory Hydra and back to that page, signed in as the provider's
// user; a user the provider puts in no group of the team is not let in.
func TestWebUIOIDCSignIn(t *testing.T) {
	p := startProvider(t)
	id, secret := p.client()
	f := newFleetOf(t, bin, "", []string{"--oidc-issuer", p.issuer, "--oidc-client-id", id, "--oidc-client-secret", secret, "--oidc-display-name", "Hydra"})
	p.redirectTo(id, f.url)
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret")
	teamFile := filepath.Join(f.dir, "blue.yml")
	if err := os.WriteFile(teamFile, []byte("roles:\n- name: member\n  oidc: {groups: [devs]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.mustFly("set-team", "-n", "blue", "-c", teamFile, "--non-interactive")
	f.setPipelineAs("blue", "p", "jobs:\n- name: j\n  plan:\n  - task: t\n    config: {platform: linux, run: {path: \"true\"}}\n")

	ctx := chromium(t)
	p.signInAs("Alice", "Devs")
	page := f.url + "/teams/blue/pipelines/p"
	if err := chromedp.Do(ctx, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS("#oidc")),
		chromedp.Click(chromedp.CSS("#oidc")), chromedp.WaitVisible(chromedp.CSS("#graph"))); err != nil {
		t.Fatalf("sign in through the provider: %v", err)
	}
	screenshot(t, ctx, "oidc-signed-in")
	if user := text(t, ctx, "#user"); user != "alice" {
		t.Errorf("signed in as %q, want alice", user)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`)); loc != page {
		t.Errorf("after signing in the browser is at %s, want %s", loc, page)
	}

	// Someone the provider puts in no group of blue signs in, and is not
	// shown blue's pipeline.
	ctx = chromium(t)
	p.signInAs("mallory", "others")
	if err := chromedp.Do(ctx, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS("#oidc")),
		chromedp.Click(chromedp.CSS("#oidc")), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
		t.Fatalf("mallory signs in: %v", err)
	}
	poll(t, ctx, "mallory is refused blue's pipeline", `!document.getElementById("graph") && document.getElementById("main").textContent.length > 0 && !location.pathname.startsWith("/sky/")`, 30*time.Second)
	if n := count(t, ctx, "#graph"); n != 0 {
		t.Error("mallory sees blue's graph")
	}
	body := text(t, ctx, "main")
	screenshot(t, ctx, "oidc-refused")
	if !strings.Contains(body, "signed in as mallory") || !strings.Contains(body, "team blue gives you no role") {
		t.Errorf("mallory's page does not say why:\n%s", body)
	}
}

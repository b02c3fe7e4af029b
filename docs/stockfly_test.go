package docs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/cmd/fly/cli"
)

// probes are the stock fly's commands as the doc test runs them against
// make run's hub, in this order ({url} is the hub's URL): the example
// pipeline hello, and a pipeline of the probe's own (docs/testdata).
var probes = []struct{ command, args string }{
	{"login", "-c {url} -u admin -p admin"},
	{"status", ""},
	{"targets", ""},
	{"userinfo", ""},
	{"teams", ""},
	{"get-team", "-n main"},
	{"pipelines", ""},
	{"get-pipeline", "-p hello"},
	{"jobs", "-p hello"},
	{"resources", "-p hello"},
	{"resource-versions", "-r hello/greeting"},
	{"builds", "-j hello/hello"},
	{"checklist", "-p hello"},
	{"validate-pipeline", "-c examples/hello.yml"},
	{"format-pipeline", "-c examples/hello.yml"},
	{"set-pipeline", "-n -p probe -c docs/testdata/probe.yml"},
	{"unpause-pipeline", "-p probe"},
	{"paused-pipelines", ""},
	{"pause-pipeline", "-p probe"},
	{"expose-pipeline", "-p probe"},
	{"hide-pipeline", "-p probe"},
	{"check-resource", "-r probe/greeting"},
	{"check-resource-type", "-r probe/greeter"},
	{"clear-versions", "--resource probe/greeting -n"},
	{"rename-pipeline", "-o probe -n probe2"},
	{"order-pipelines", "-p hello -p probe2"},
	{"archive-pipeline", "-n -p probe2"},
	{"destroy-pipeline", "-n -p probe2"},
	{"trigger-job", "-j hello/hello -w"},
	{"watch", "-j hello/hello"},
	{"rerun-build", "-j hello/hello -b 1 -w"},
	{"abort-build", "-j hello/hello -b 1"},
	{"pause-job", "-j hello/hello"},
	{"paused-jobs", "-p hello"},
	{"unpause-job", "-j hello/hello"},
	{"schedule-job", "-j hello/hello"},
	{"pin-resource", "-r hello/greeting -v version:v1"},
	{"unpin-resource", "-r hello/greeting"},
	{"disable-resource-version", "-r hello/greeting -v version:v1"},
	{"enable-resource-version", "-r hello/greeting -v version:v1"},
	{"clear-task-cache", "-j hello/hello -s read -n"},
	{"set-pipeline", "-n -p probe -c docs/testdata/probe.yml -i branch=main"},
	{"order-instanced-pipelines", "-g probe -p branch:main"},
	{"execute", "-c docs/testdata/task.yml"},
	{"hijack", "-j hello/hello -s read -- true"},
	{"containers", ""},
	{"volumes", ""},
	{"workers", ""},
	{"active-users", ""},
	{"get-components", ""},
	{"pause-component", "-n scheduler"},
	{"unpause-component", "-n scheduler"},
	{"set-wall", "-m hello"},
	{"get-wall", ""},
	{"clear-wall", ""},
	{"set-team", "-n probe-team --local-user admin --non-interactive"},
	{"rename-team", "-o probe-team -n probe-team2"},
	{"destroy-team", "-n probe-team2 --non-interactive"},
	{"curl", "/api/v1/info"},
	{"completion", "--shell bash"},
	{"help", ""},
	{"edit-target", "--team-name main"},
	{"logout", ""},
	{"delete-target", ""},
	{"login", "-c {url} -u admin -p admin"},
	{"sync", "-f"}, // last: it replaces the fly that runs it with the hub's
}

// notProbed says why a stock fly command is not in the probe, and where it
// is tested instead.
var notProbed = map[string]string{
	"clear-resource-cache": "not probed: stock fly asks to confirm on a terminal only and has no flag to skip it; its route is tested with Switchyard's fly in e2e/TestStockFlyClearsCaches",
	"land-worker":          "not probed: it would take make run's spoke away; tested with stock fly in e2e/TestLandRetirePruneSpokes",
	"prune-worker":         "not probed: it needs a spoke that is not running; tested with stock fly in e2e/TestLandRetirePruneSpokes",
}

// probeNotes explain a probe's outcome.
var probeNotes = map[string]string{
	"hijack":            "no containers matched: make run's spoke is local, and local spokes cannot be intercepted; on kube spokes Switchyard's `fly intercept` is tested (e2e/TestKubeIntercept), stock fly's `hijack` is not",
	"volumes":           "not yet: Switchyard has no volumes API (artifacts live in object storage and spokes' caches)",
	"get-components":    "not yet: Concourse's components are its internal loops; Switchyard's have no API",
	"pause-component":   "not yet, as get-components",
	"unpause-component": "not yet, as get-components",
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// probeOutcome is a command's result as the table shows it: works, or the
// first line it printed that names an error (else its last line).
func probeOutcome(out string, err error) string {
	if err == nil {
		return "works"
	}
	lines := strings.Split(strings.TrimSpace(ansi.ReplaceAllString(out, "")), "\n")
	shown := strings.TrimSpace(lines[len(lines)-1])
	for _, l := range lines {
		if strings.Contains(strings.ToLower(l), "error") {
			shown = strings.TrimSpace(l)
			break
		}
	}
	if len(shown) > 140 {
		shown = shown[:140] + "…"
	}
	return "fails: " + shown
}

// flyCommandsTable runs the stock fly's every command against the hub of c
// and returns the compatibility page's table of fly commands: every
// command of the stock fly (read from its own help) and of Switchyard's,
// each with what the stock one did against Switchyard.
func flyCommandsTable(t *testing.T, c *checkout, stock string) string {
	t.Helper()
	// sync replaces the fly it runs: the probe runs a copy.
	data, err := os.ReadFile(stock)
	if err != nil {
		t.Fatal(err)
	}
	fly := filepath.Join(t.TempDir(), "fly")
	if err := os.WriteFile(fly, data, 0o755); err != nil {
		t.Fatal(err)
	}
	help, _ := exec.Command(fly, "--help").CombinedOutput()
	stockCommands := map[string]string{} // name → aliases as help prints them
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z-]+) {2,}.*?(?:\(aliases: ([^)]*)\))?$`).FindAllStringSubmatch(string(help), -1) {
		stockCommands[m[1]] = m[2]
	}
	if len(stockCommands) < 50 {
		t.Fatalf("stock fly --help listed %d commands:\n%s", len(stockCommands), help)
	}
	outcome := map[string][]string{}
	url := "http://" + c.addr
	for _, p := range probes {
		if _, ok := stockCommands[p.command]; !ok {
			t.Errorf("the probe runs %s, which stock fly does not have", p.command)
			continue
		}
		args := append([]string{"-t", "probe", p.command}, strings.Fields(strings.ReplaceAll(p.args, "{url}", url))...)
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		cmd := exec.CommandContext(ctx, fly, args...)
		cmd.Dir, cmd.Env = c.dir, c.env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.Stdin = strings.NewReader("y\n") // a command that asks to confirm is answered yes
		err := cmd.Run()
		cancel()
		if err != nil {
			t.Logf("fly %s: %v\n%s", strings.Join(args[2:], " "), err, out.String())
		}
		shown := strings.TrimSpace("fly -t T " + p.command + " " + strings.ReplaceAll(p.args, "{url}", "URL"))
		result := probeOutcome(out.String(), err)
		t.Logf("%s: %s", shown, result)
		if entry := fmt.Sprintf("`%s`: %s", cell(shown), cell(result)); !slices.Contains(outcome[p.command], entry) {
			outcome[p.command] = append(outcome[p.command], entry)
		}
	}
	ours := cli.Commands()
	aliasOf := map[string]string{}
	for n, as := range ours {
		for _, a := range as {
			aliasOf[a] = n
		}
	}
	names := map[string]bool{}
	for n := range stockCommands {
		names[n] = true
	}
	for n := range ours {
		names[n] = true
	}
	var sorted []string
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var b strings.Builder
	b.WriteString("| command | Switchyard's fly | stock fly 8.2.5 against Switchyard |\n|---|---|---|\n")
	for _, n := range sorted {
		_, inStock := stockCommands[n]
		aliases, inOurs := ours[n]
		oursCell := "no"
		if n, ok := aliasOf[n]; ok && !inOurs {
			oursCell = "as `" + n + "`"
		}
		if inOurs {
			oursCell = "yes"
			if len(aliases) > 0 {
				oursCell += " (" + strings.Join(aliases, ", ") + ")"
			}
		}
		stockCell := "not a stock fly command: Switchyard's own"
		switch {
		case inStock && len(outcome[n]) > 0:
			stockCell = strings.Join(outcome[n], "; ")
			if note := probeNotes[n]; note != "" {
				stockCell += " (" + cell(note) + ")"
			}
		case inStock && notProbed[n] != "":
			stockCell = notProbed[n]
		case inStock:
			t.Errorf("stock fly's %s is neither probed nor said why not: add it to probes or notProbed", n)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", n, oursCell, stockCell)
	}
	return b.String()
}

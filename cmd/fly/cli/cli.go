package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/pipeline/validatecmd"
)

// env is what a command runs with.
type env struct {
	target string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	color  bool
}

type command struct {
	aliases []string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands is every fly command this fly has; the others say so.
func commands() map[string]command {
	return map[string]command{
		"login":                     {[]string{"l"}, login},
		"logout":                    {[]string{"o"}, logout},
		"status":                    {nil, status},
		"targets":                   {[]string{"ts"}, targets},
		"set-pipeline":              {[]string{"sp"}, setPipeline},
		"get-pipeline":              {[]string{"gp"}, getPipeline},
		"pipelines":                 {[]string{"ps"}, pipelines},
		"pause-pipeline":            {[]string{"pp"}, pipelineAction("pause-pipeline", "/pause", "paused")},
		"unpause-pipeline":          {[]string{"up"}, pipelineAction("unpause-pipeline", "/unpause", "unpaused")},
		"trust-pipeline":            {nil, pipelineAction("trust-pipeline", "/trust", "trusted")},
		"untrust-pipeline":          {nil, pipelineAction("untrust-pipeline", "/untrust", "untrusted")},
		"destroy-pipeline":          {[]string{"dp"}, destroyPipeline},
		"expose-pipeline":           {[]string{"ep"}, pipelineAction("expose-pipeline", "/expose", "exposed")},
		"hide-pipeline":             {[]string{"hp"}, pipelineAction("hide-pipeline", "/hide", "hid")},
		"archive-pipeline":          {[]string{"ap"}, archivePipeline},
		"rename-pipeline":           {[]string{"rp"}, renamePipeline},
		"order-pipelines":           {[]string{"op"}, orderPipelines},
		"format-pipeline":           {[]string{"fp"}, formatPipeline},
		"order-instanced-pipelines": {[]string{"oip"}, orderInstancedPipelines},
		"jobs":                      {[]string{"js"}, jobs},
		"trigger-job":               {[]string{"tj"}, triggerJob},
		"watch":                     {[]string{"w"}, watch},
		"builds":                    {[]string{"bs"}, builds},
		"abort-build":               {[]string{"ab"}, abortBuild},
		"check-resource":            {[]string{"cr"}, checkResource},
		"check-resource-type":       {[]string{"crt"}, checkResourceType},
		"resource-versions":         {[]string{"rvs"}, resourceVersions},
		"pin-resource":              {[]string{"pr"}, pinResource},
		"unpin-resource":            {[]string{"ur"}, unpinResource},
		"clear-resource-cache":      {[]string{"crc"}, clearResourceCache},
		"clear-task-cache":          {[]string{"ctc"}, clearTaskCache},
		"enable-resource-version":   {[]string{"erv"}, enableVersion(true)},
		"disable-resource-version":  {[]string{"drv"}, enableVersion(false)},
		"pause-job":                 {[]string{"pj"}, jobAction("pause-job", "/pause", "paused")},
		"unpause-job":               {[]string{"uj"}, jobAction("unpause-job", "/unpause", "unpaused")},
		"schedule-job":              {[]string{"sj"}, jobAction("schedule-job", "/schedule", "scheduled")},
		"trust-job":                 {nil, jobAction("trust-job", "/trust", "trusted")},
		"untrust-job":               {nil, jobAction("untrust-job", "/untrust", "untrusted")},
		"rerun-build":               {[]string{"rb"}, rerunBuild},
		"workers":                   {[]string{"ws"}, workers},
		"land-worker":               {[]string{"lw"}, landWorker},
		"prune-worker":              {[]string{"pw"}, pruneWorker},
		"revoke-worker-credential":  {nil, revokeWorkerCredential},
		"join-tokens":               {nil, joinTokens},
		"set-team-quota":            {nil, setTeamQuota},
		"create-join-token":         {nil, createJoinToken},
		"rotate-join-token":         {nil, rotateJoinToken},
		"revoke-join-token":         {nil, revokeJoinToken},
		"intercept":                 {[]string{"i", "hijack"}, intercept},
		"set-policy":                {nil, setPolicy},
		"policies":                  {nil, policies},
		"destroy-policy":            {nil, destroyPolicy},
		"placement":                 {nil, placementCmd},
		"execute":                   {[]string{"e"}, execute},
		"teams":                     {[]string{"t"}, teams},
		"get-team":                  {[]string{"gt"}, getTeam},
		"set-team":                  {[]string{"st"}, setTeam},
		"rename-team":               {[]string{"rt"}, renameTeam},
		"destroy-team":              {[]string{"dt"}, destroyTeam},
		"set-wall":                  {[]string{"sw"}, setWall},
		"get-wall":                  {[]string{"gw"}, getWall},
		"clear-wall":                {[]string{"cw"}, clearWall},
	}
}

// exitError carries a specific exit code (a watched build's).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Run is fly: global flags, then one command.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, color: isTerminal(stdout)}
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch {
		case args[0] == "-t" || args[0] == "--target":
			if len(args) < 2 {
				fmt.Fprintln(stderr, "error: expected argument for flag `-t, --target'")
				return 1
			}
			e.target, args = args[1], args[2:]
		case strings.HasPrefix(args[0], "--target="):
			e.target, args = strings.TrimPrefix(args[0], "--target="), args[1:]
		case args[0] == "-v" || args[0] == "--version":
			fmt.Fprintln(stdout, api.Version)
			return 0
		case args[0] == "-h" || args[0] == "--help":
			usage(stdout)
			return 0
		default:
			fmt.Fprintf(stderr, "error: unknown flag `%s'\n", strings.TrimLeft(args[0], "-"))
			return 1
		}
	}
	if len(args) == 0 {
		usage(stderr)
		return 1
	}
	name := args[0]
	if name == "validate-pipeline" || name == "vp" {
		return validatecmd.Run("fly", args[1:], stdout, stderr)
	}
	cmd, ok := lookup(name)
	if !ok {
		fmt.Fprintf(stderr, "error: fly command %q is not available in Switchyard's fly yet; run fly --help for the commands it has\n", name)
		return 1
	}
	err := cmd.run(ctx, e, args[1:])
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, api.ErrUnauthorized):
		fmt.Fprintf(stderr, "not authorized. run the following to log in:\n\n    fly -t %s login\n", e.target)
	default:
		fmt.Fprintf(stderr, "error: %v\n", err)
	}
	return 1
}

// Commands are the names of this fly's commands, each with its aliases, for
// the compatibility page.
func Commands() map[string][]string {
	out := map[string][]string{"validate-pipeline": {"vp"}}
	for n, c := range commands() {
		out[n] = c.aliases
	}
	return out
}

func lookup(name string) (command, bool) {
	for n, c := range commands() {
		if n == name {
			return c, true
		}
		for _, a := range c.aliases {
			if a == name {
				return c, true
			}
		}
	}
	return command{}, false
}

func usage(w io.Writer) {
	var names []string
	for n := range commands() {
		names = append(names, n)
	}
	names = append(names, "validate-pipeline")
	sort.Strings(names)
	fmt.Fprintf(w, "Usage:\n  fly [-t TARGET] COMMAND [FLAGS]\n\nAvailable commands:\n  %s\n", strings.Join(names, "\n  "))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// flags is a command's flag set, with short and long names for each flag.
type flags struct {
	*flag.FlagSet
	names map[*string][2]string
}

func newFlags(name string, e *env) flags {
	fs := flag.NewFlagSet("fly "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return flags{fs, map[*string][2]string{}}
}

func (f flags) str(short, long, usage string) *string {
	p := new(string)
	if short != "" {
		f.StringVar(p, short, "", usage)
	}
	f.StringVar(p, long, "", usage)
	f.names[p] = [2]string{short, long}
	return p
}

// parse parses args and reports the first of the required flags not given,
// as fly does.
func (f flags) parse(args []string, required ...*string) error {
	if err := f.Parse(args); err != nil {
		return err
	}
	for _, r := range required {
		if *r == "" {
			n := f.names[r]
			return fmt.Errorf("the required flag `-%s, --%s' was not specified", n[0], n[1])
		}
	}
	return nil
}

// printJSON prints v as indented JSON (the commands' --json).
func (e *env) printJSON(v any) error {
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, string(out))
	return nil
}

func (f flags) boolean(short, long, usage string) *bool {
	p := new(bool)
	if short != "" {
		f.BoolVar(p, short, false, usage)
	}
	f.BoolVar(p, long, false, usage)
	return p
}

func (f flags) list(short, long, usage string) *[]string {
	p := &[]string{}
	add := func(v string) error { *p = append(*p, v); return nil }
	if short != "" {
		f.Func(short, usage, add)
	}
	f.Func(long, usage, add)
	return p
}

// splitPair splits PIPELINE/JOB.
// splitPair splits PIPELINE/THING, where the pipeline may be an instance
// (NAME/k:v,k2:v2/THING).
func splitPair(v, what string) (string, string, error) {
	i := strings.LastIndex(v, "/")
	a, b, ok := v[:max(i, 0)], v[i+1:], i >= 0
	if !ok || a == "" || b == "" {
		return "", "", fmt.Errorf("argument format should be <pipeline>/<%s>", what)
	}
	return a, b, nil
}

// colour wraps s in an ANSI colour when writing to a terminal.
func (e *env) colour(code, s string) string {
	if !e.color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// confirm asks a yes/no question on stdin.
func (e *env) confirm(question string) bool {
	fmt.Fprintf(e.stdout, "%s [yN]: ", question)
	var answer string
	if _, err := fmt.Fscanln(e.stdin, &answer); err != nil {
		return false
	}
	return answer == "y" || answer == "Y" || answer == "yes"
}

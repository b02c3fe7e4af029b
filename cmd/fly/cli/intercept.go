package cli

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/term"

	"github.com/switchyard-ci/switchyard/api"
)

// intercept (hijack) runs a process in a running step's container, over
// Concourse's hijack websocket: fly intercept -j P/J [-b N] [-s STEP] -- CMD.
func intercept(ctx context.Context, e *env, args []string) error {
	f := newFlags("intercept", e)
	job := f.str("j", "job", "PIPELINE/JOB of the build")
	build := f.str("b", "build", "build name (with -j) or id")
	step := f.str("s", "step", "step name")
	stepType := f.str("", "step-type", "get, put or task")
	attempt := f.str("a", "attempt", "attempt, such as 1 or 1,2")
	check := f.str("c", "check", "PIPELINE/RESOURCE: its check container")
	handle := f.str("", "handle", "container handle")
	if err := f.parse(args); err != nil {
		return err
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return err
	}
	var ct api.Container
	if *handle != "" {
		if err := c.Get(ctx, "/api/v1/teams/"+url.PathEscape(t.Team)+"/containers/"+url.PathEscape(*handle), &ct); err != nil {
			return err
		}
	} else {
		q := url.Values{}
		switch {
		case *check != "":
			p, r, err := splitPair(*check, "resource")
			if err != nil {
				return err
			}
			q.Set("type", "check")
			q.Set("pipeline_name", p)
			q.Set("resource_name", r)
		case *job != "":
			p, j, err := splitPair(*job, "job")
			if err != nil {
				return err
			}
			q.Set("pipeline_name", p)
			q.Set("job_name", j)
			if *build != "" {
				q.Set("build_name", *build)
			}
		case *build != "":
			q.Set("build_id", *build)
		default:
			return errors.New("name the build whose step to intercept: -j PIPELINE/JOB [-b BUILD], -b BUILD_ID or -c PIPELINE/RESOURCE")
		}
		if *step != "" {
			q.Set("step_name", *step)
		}
		if *stepType != "" {
			q.Set("type", *stepType)
		}
		if *attempt != "" {
			q.Set("attempt", *attempt)
		}
		var list []api.Container
		if err := c.Get(ctx, "/api/v1/teams/"+url.PathEscape(t.Team)+"/containers?"+q.Encode(), &list); err != nil {
			return err
		}
		if ct, err = e.pickContainer(list); err != nil {
			return err
		}
	}
	spec := api.HijackProcessSpec{Path: "bash", Dir: ct.WorkingDirectory, User: ct.User, Privileged: true}
	defaulted := true
	if rest := f.Args(); len(rest) > 0 {
		spec.Path, spec.Args, defaulted = rest[0], rest[1:], false
	}
	stdin, isFile := e.stdin.(*os.File)
	if isFile && term.IsTerminal(int(stdin.Fd())) {
		cols, rows, err := term.GetSize(int(stdin.Fd()))
		if err == nil {
			spec.TTY = &api.HijackTTYSpec{WindowSize: api.HijackWindowSize{Columns: cols, Rows: rows}}
			spec.Env = []string{"TERM=" + os.Getenv("TERM")}
		}
	}
	u := strings.TrimSuffix(t.API, "/") + "/api/v1/teams/" + url.PathEscape(t.Team) + "/containers/" + url.PathEscape(ct.ID) + "/hijack"
	u = "ws" + strings.TrimPrefix(u, "http")
	header := http.Header{}
	if t.Token != nil {
		header.Set("Authorization", t.Token.Type+" "+t.Token.Value)
	}
	dialer := *websocket.DefaultDialer
	if t.Insecure {
		dialer.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked with -k
	}
	code, err := e.hijack(ctx, &dialer, u, header, spec)
	var notFound errExecutableNotFound
	if errors.As(err, &notFound) && defaulted {
		fmt.Fprintln(e.stderr, "bash not found in the container; trying sh")
		spec.Path = "sh"
		code, err = e.hijack(ctx, &dialer, u, header, spec)
	}
	if err != nil {
		return err
	}
	return exitError{code}
}

type errExecutableNotFound struct{ msg string }

func (e errExecutableNotFound) Error() string { return e.msg }

// pickContainer keeps the containers fly may intercept and picks the one:
// the only one, or the user's choice on a terminal.
func (e *env) pickContainer(list []api.Container) (api.Container, error) {
	var ok []api.Container
	for _, c := range list {
		if c.State == "" || c.State == "created" || c.State == "failed" {
			ok = append(ok, c)
		}
	}
	switch len(ok) {
	case 0:
		return api.Container{}, errors.New("no containers matched your search parameters!\n\nthey may have expired if your build hasn't recently finished.")
	case 1:
		return ok[0], nil
	}
	var lines []string
	for i, c := range ok {
		desc := fmt.Sprintf("%d: build #%s, step: %s, type: %s, attempt: %s", i+1, c.BuildName, c.StepName, c.Type, c.Attempt)
		if c.JobName != "" {
			desc = fmt.Sprintf("%d: %s/%s build #%s, step: %s, type: %s, attempt: %s", i+1, c.PipelineName, c.JobName, c.BuildName, c.StepName, c.Type, c.Attempt)
		}
		lines = append(lines, desc)
	}
	in, isFile := e.stdin.(*os.File)
	if !isFile || !term.IsTerminal(int(in.Fd())) {
		return api.Container{}, fmt.Errorf("several containers match; narrow the search with -s, --step-type or -a:\n%s", strings.Join(lines, "\n"))
	}
	fmt.Fprintln(e.stdout, strings.Join(lines, "\n"))
	fmt.Fprint(e.stdout, "choose a container: ")
	answer, _ := bufio.NewReader(in).ReadString('\n')
	n, err := strconv.Atoi(strings.TrimSpace(answer))
	if err != nil || n < 1 || n > len(ok) {
		return api.Container{}, fmt.Errorf("no container numbered %q", strings.TrimSpace(answer))
	}
	return ok[n-1], nil
}

// hijack runs one session: the spec, then stdin and resizes out, output in,
// until the exit status.
func (e *env) hijack(ctx context.Context, dialer *websocket.Dialer, u string, header http.Header, spec api.HijackProcessSpec) (int, error) {
	conn, resp, err := dialer.DialContext(ctx, u, header)
	if err != nil {
		if resp != nil {
			switch resp.StatusCode {
			case http.StatusUnauthorized:
				return 0, api.ErrUnauthorized
			case http.StatusForbidden:
				return 0, errors.New("forbidden")
			case http.StatusNotFound:
				return 0, errors.New("container not found")
			}
			return 0, fmt.Errorf("intercept: %s", resp.Status)
		}
		return 0, fmt.Errorf("intercept: %w", err)
	}
	defer conn.Close()
	if err := conn.WriteJSON(spec); err != nil {
		return 0, err
	}
	var out writeLock
	if spec.TTY != nil {
		in := e.stdin.(*os.File)
		if state, err := term.MakeRaw(int(in.Fd())); err == nil {
			defer func() { _ = term.Restore(int(in.Fd()), state) }()
		}
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				if cols, rows, err := term.GetSize(int(in.Fd())); err == nil {
					out.send(conn, api.HijackInput{TTYSpec: &api.HijackTTYSpec{WindowSize: api.HijackWindowSize{Columns: cols, Rows: rows}}})
				}
			}
		}()
	}
	go func() {
		buf := make([]byte, 32*1024)
		for {
			n, err := e.stdin.Read(buf)
			if n > 0 {
				out.send(conn, api.HijackInput{Stdin: append([]byte{}, buf[:n]...)})
			}
			if err != nil {
				out.send(conn, api.HijackInput{Closed: true})
				return
			}
		}
	}()
	go func() { // keep proxies from closing an idle session, as fly does
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for range tick.C {
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second)); err != nil {
				return
			}
		}
	}()
	notFound := false
	for {
		var msg api.HijackOutput
		if err := conn.ReadJSON(&msg); err != nil {
			return 0, fmt.Errorf("intercept ended without an exit status: %w", err)
		}
		if len(msg.Stdout) > 0 {
			_, _ = e.stdout.Write(msg.Stdout)
		}
		if len(msg.Stderr) > 0 {
			_, _ = e.stderr.Write(msg.Stderr)
		}
		if msg.ExecutableNotFound {
			notFound = true
		}
		if msg.Error != "" {
			if notFound {
				return 0, errExecutableNotFound{msg.Error}
			}
			fmt.Fprintln(e.stderr, e.colour("31", msg.Error))
			return 0, exitError{255}
		}
		if msg.ExitStatus != nil {
			return *msg.ExitStatus, nil
		}
	}
}

// writeLock sends hijack inputs one at a time.
type writeLock struct{ mu sync.Mutex }

func (w *writeLock) send(conn *websocket.Conn, msg api.HijackInput) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = conn.WriteJSON(msg)
}

package spoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/wire"
)

// intercept serves one fly intercept session: it dials the hub back, reads
// fly's process spec, runs the process in the step's container, and relays
// stdin, output and the exit status in Concourse's hijack messages.
func (a *Agent) intercept(ctx context.Context, in wire.Intercept) {
	u := strings.TrimSuffix(a.cfg.HubURL, "/") + strings.Replace(wire.PathIntercept, "{id}", strconv.FormatInt(in.ID, 10), 1)
	u = "ws" + strings.TrimPrefix(u, "http")
	a.mu.Lock()
	header := http.Header{"Authorization": {"Bearer " + a.credential}}
	as, running := a.steps[in.StepID]
	a.mu.Unlock()
	conn, resp, err := websocket.DefaultDialer.DialContext(ctx, u, header)
	if err != nil {
		status := ""
		if resp != nil {
			status = resp.Status
		}
		a.log.Warn("intercept: dial hub", slog.Int64("intercept", in.ID), slog.String("status", status), slog.String("error", err.Error()))
		return
	}
	defer conn.Close()
	out := &hijackWriter{conn: conn}
	defer func() {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	}()
	var spec api.HijackProcessSpec
	if err := conn.ReadJSON(&spec); err != nil {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseUnsupportedData, "malformed process spec"), time.Now().Add(time.Second))
		return
	}
	ic, ok := a.runtime.(Interceptor)
	switch {
	case !running:
		out.send(api.HijackOutput{Error: fmt.Sprintf("the step is neither running nor recently failed on spoke %s", a.cfg.Name)})
		return
	case !ok:
		out.send(api.HijackOutput{Error: fmt.Sprintf("spoke %s runs steps with the %s runtime, which cannot be intercepted: use a spoke with the kube runtime", a.cfg.Name, a.cfg.Runtime)})
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stdinR, stdinW := io.Pipe()
	resize := make(chan api.HijackWindowSize, 1)
	go func() {
		defer cancel() // fly went away: stop the process
		for {
			var msg api.HijackInput
			if err := conn.ReadJSON(&msg); err != nil {
				stdinW.CloseWithError(io.EOF)
				return
			}
			if len(msg.Stdin) > 0 {
				if _, err := stdinW.Write(msg.Stdin); err != nil {
					return
				}
			}
			if msg.Closed {
				stdinW.Close()
			}
			if msg.TTYSpec != nil {
				select {
				case resize <- msg.TTYSpec.WindowSize:
				default:
				}
			}
		}
	}()
	code, err := ic.Intercept(ctx, as, spec, wire.ProcessIO{Stdin: stdinR, Stdout: out.stream(false), Stderr: out.stream(true), Resize: resize})
	switch {
	case errors.Is(err, wire.ErrExecutableNotFound):
		out.send(api.HijackOutput{ExecutableNotFound: true})
		out.send(api.HijackOutput{Error: err.Error()})
	case err != nil:
		out.send(api.HijackOutput{Error: err.Error()})
	default:
		out.send(api.HijackOutput{ExitStatus: &code})
	}
}

// hijackWriter sends hijack output messages, one writer at a time.
type hijackWriter struct {
	mu   sync.Mutex
	conn *websocket.Conn
}

func (w *hijackWriter) send(msg api.HijackOutput) {
	raw, _ := json.Marshal(msg)
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.conn.WriteMessage(websocket.TextMessage, raw)
}

func (w *hijackWriter) stream(stderr bool) io.Writer { return streamWriter{w: w, stderr: stderr} }

type streamWriter struct {
	w      *hijackWriter
	stderr bool
}

func (s streamWriter) Write(p []byte) (int, error) {
	msg := api.HijackOutput{Stdout: append([]byte{}, p...)}
	if s.stderr {
		msg = api.HijackOutput{Stderr: append([]byte{}, p...)}
	}
	s.w.send(msg)
	return len(p), nil
}

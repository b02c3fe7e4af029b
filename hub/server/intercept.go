package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/notify"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/wire"
)

// fly intercept on a fleet: a container is a running step, or one that
// failed within wire.KeepFailed (whose pod a kube spoke keeps). fly's hijack
// websocket ends on the hub, which records a session for the step's spoke;
// the spoke sees it in its long poll, dials back a websocket of its own
// (wire.PathIntercept), and the hub relays messages both ways unchanged:
// fly's process spec and stdin to the spoke, the spoke's output and exit
// status to fly. The spoke must reach the replica that holds fly's socket.

// interceptDial is how long fly's session waits for the spoke to dial back.
const interceptDial = 30 * time.Second

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// sessions are the intercept sessions this replica holds, by id: each waits
// for its spoke's websocket.
type sessions struct {
	mu    sync.Mutex
	conns map[int64]chan *websocket.Conn
}

func (s *sessions) open(id int64) chan *websocket.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		s.conns = map[int64]chan *websocket.Conn{}
	}
	ch := make(chan *websocket.Conn, 1)
	s.conns[id] = ch
	return ch
}

func (s *sessions) get(id int64) (chan *websocket.Conn, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.conns[id]
	return ch, ok
}

func (s *sessions) close(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, id)
}

func toContainer(c store.Container) api.Container {
	state := "created"
	if c.Failed {
		state = "failed"
	}
	return api.Container{ID: strconv.FormatInt(c.StepID, 10), WorkerName: c.SpokeName, State: state, Type: string(c.Kind),
		StepName: c.StepName, Attempt: strconv.Itoa(c.Attempt), PipelineID: c.PipelineID, JobID: c.JobID, BuildID: c.BuildID,
		ResourceID: c.ResourceID, PipelineName: c.PipelineName, JobName: c.JobName, BuildName: c.BuildName, ResourceName: c.ResourceName}
}

// containerFilters are the query keys fly filters containers with, and the
// field each matches.
var containerFilters = map[string]func(api.Container) string{
	"type": func(c api.Container) string { return c.Type }, "step_name": func(c api.Container) string { return c.StepName },
	"attempt": func(c api.Container) string { return c.Attempt }, "pipeline_name": func(c api.Container) string { return c.PipelineName },
	"job_name": func(c api.Container) string { return c.JobName }, "build_name": func(c api.Container) string { return c.BuildName },
	"resource_name": func(c api.Container) string { return c.ResourceName },
	"pipeline_id":   func(c api.Container) string { return strconv.FormatInt(c.PipelineID, 10) },
	"job_id":        func(c api.Container) string { return strconv.FormatInt(c.JobID, 10) },
	"build_id":      func(c api.Container) string { return strconv.FormatInt(c.BuildID, 10) },
}

// listContainers answers GET /teams/T/containers: the team's running steps,
// filtered by fly's exact-match query keys.
func (s *Server) listContainers(w http.ResponseWriter, r *http.Request, _ *caller) error {
	t, err := s.teamFromPath(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	for _, key := range []string{"pipeline_id", "job_id", "build_id"} {
		if v := q.Get(key); v != "" {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return errorf(http.StatusBadRequest, "%s must be a number, not %q", key, v)
			}
		}
	}
	list, err := s.store.Containers(r.Context(), t.ID, wire.KeepFailed)
	if err != nil {
		return err
	}
	out := []api.Container{}
next:
	for _, c := range list {
		ac := toContainer(c)
		for key, field := range containerFilters {
			if v, ok := q[key]; ok && field(ac) != v[0] {
				continue next
			}
		}
		out = append(out, ac)
	}
	return writeJSON(w, http.StatusOK, out)
}

// teamContainer is the running step a path's handle names, if it is the
// team's.
func (s *Server) teamContainer(r *http.Request) (store.Container, error) {
	t, err := s.teamFromPath(r)
	if err != nil {
		return store.Container{}, err
	}
	id, err := strconv.ParseInt(r.PathValue("handle"), 10, 64)
	if err != nil {
		return store.Container{}, notFound("container " + r.PathValue("handle"))
	}
	c, err := s.store.Container(r.Context(), id, wire.KeepFailed)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.TeamID != t.ID) {
		return c, notFound("container " + r.PathValue("handle"))
	}
	return c, err
}

func (s *Server) getContainer(w http.ResponseWriter, r *http.Request, _ *caller) error {
	c, err := s.teamContainer(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toContainer(c))
}

// hijackContainer is fly intercept's websocket: it waits for the step's spoke
// to dial back and relays between the two.
func (s *Server) hijackContainer(w http.ResponseWriter, r *http.Request, c *caller) error {
	ct, err := s.teamContainer(r)
	if err != nil {
		return err
	}
	if ct.Kind == wire.KindCheck && !c.admin {
		return errorf(http.StatusForbidden, "only admins may intercept check containers")
	}
	id, err := s.store.CreateIntercept(r.Context(), ct.StepID, ct.SpokeID)
	if err != nil {
		return err
	}
	dialed := s.sessions.open(id)
	defer s.sessions.close(id)
	fly, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return nil // the upgrader answered
	}
	defer fly.Close()
	s.notify.Notify(notify.SpokeKey(ct.SpokeID))
	select {
	case spoke := <-dialed:
		defer spoke.Close()
		relay(fly, spoke)
	case <-time.After(interceptDial):
		sendHijackError(fly, fmt.Sprintf("spoke %s did not connect for the intercept within %s: is it running, and does it reach this hub replica?", ct.SpokeName, interceptDial))
	case <-r.Context().Done():
	}
	return nil
}

// spokeIntercept is the spoke's side of a session this replica holds.
func (s *Server) spokeIntercept(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return notFound("intercept " + r.PathValue("id"))
	}
	dialed, ok := s.sessions.get(id)
	if !ok {
		return errorf(http.StatusMisdirectedRequest, "intercept %d is held by another hub replica", id)
	}
	if _, err := s.store.ClaimIntercept(r.Context(), id, c.spoke.ID); err != nil {
		return err
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return nil
	}
	select {
	case dialed <- conn:
	default:
		conn.Close()
	}
	return nil
}

// relay copies messages between fly and the spoke until either side ends;
// the spoke ends by closing after its exit status.
func relay(fly, spoke *websocket.Conn) {
	go func() {
		for {
			typ, msg, err := fly.ReadMessage()
			if err != nil {
				_ = spoke.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
				return
			}
			if err := spoke.WriteMessage(typ, msg); err != nil {
				return
			}
		}
	}()
	for {
		typ, msg, err := spoke.ReadMessage()
		if err != nil {
			break
		}
		if err := fly.WriteMessage(typ, msg); err != nil {
			return
		}
	}
	_ = fly.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
}

func sendHijackError(conn *websocket.Conn, msg string) {
	raw, _ := json.Marshal(api.HijackOutput{Error: msg})
	_ = conn.WriteMessage(websocket.TextMessage, raw)
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
}

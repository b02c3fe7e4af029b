// Package intercept holds fly intercept sessions on a hub replica. A
// container is a running step, or one that failed within wire.KeepFailed
// (whose pod a kube spoke keeps). fly's hijack websocket ends on the hub
// (hub/server), which records a session for the step's spoke and opens it
// here; the spoke sees it in its long poll, dials back a websocket of its
// own (hub/gateway, wire.PathIntercept) to the replica that holds the
// session, and Relay copies messages both ways unchanged: fly's process spec
// and stdin to the spoke, the spoke's output and exit status to fly.
package intercept

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchyard-ci/switchyard/api"
)

// Dial is how long fly's session waits for the spoke to dial back.
const Dial = 30 * time.Second

// Upgrader upgrades both sides' requests to websockets.
var Upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// Broker is the sessions this replica holds, by id: each waits for its
// spoke's websocket.
type Broker struct {
	mu    sync.Mutex
	conns map[int64]chan *websocket.Conn
}

// Open starts waiting for session id's spoke: its websocket arrives on the
// channel. Close the session when done.
func (b *Broker) Open(id int64) <-chan *websocket.Conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conns == nil {
		b.conns = map[int64]chan *websocket.Conn{}
	}
	ch := make(chan *websocket.Conn, 1)
	b.conns[id] = ch
	return ch
}

// Held tells whether this replica holds session id.
func (b *Broker) Held(id int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.conns[id]
	return ok
}

// Deliver hands the spoke's websocket to session id; false (and the
// websocket is closed) when nobody waits for it any more.
func (b *Broker) Deliver(id int64, conn *websocket.Conn) bool {
	b.mu.Lock()
	ch, ok := b.conns[id]
	b.mu.Unlock()
	if ok {
		select {
		case ch <- conn:
			return true
		default:
		}
	}
	conn.Close()
	return false
}

// Close ends session id.
func (b *Broker) Close(id int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.conns, id)
}

// Relay copies messages between fly and the spoke until either side ends;
// the spoke ends by closing after its exit status.
func Relay(fly, spoke *websocket.Conn) {
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

// SendError tells fly why its session ends, and ends it.
func SendError(conn *websocket.Conn, msg string) {
	raw, _ := json.Marshal(api.HijackOutput{Error: msg})
	_ = conn.WriteMessage(websocket.TextMessage, raw)
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
}

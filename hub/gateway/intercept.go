package gateway

import (
	"net/http"
	"strconv"

	"github.com/switchyard-ci/switchyard/hub/httpapi"
	"github.com/switchyard-ci/switchyard/hub/intercept"
	"github.com/switchyard-ci/switchyard/hub/store"
)

// spokeIntercept is the spoke's side of a session this replica holds: once
// the store lets the spoke claim it (only the spoke it waits for, once),
// its websocket goes to the user's side.
func (g *Gateway) spokeIntercept(w http.ResponseWriter, r *http.Request, sp *store.Spoke) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return httpapi.NotFound("intercept " + r.PathValue("id"))
	}
	if !g.intercepts.Held(id) {
		return httpapi.Errorf(http.StatusMisdirectedRequest, "intercept %d is held by another hub replica", id)
	}
	if _, err := g.store.ClaimIntercept(r.Context(), id, sp.ID); err != nil {
		return err
	}
	conn, err := intercept.Upgrader.Upgrade(w, r, nil)
	if err != nil {
		return nil // the upgrader answered
	}
	g.intercepts.Deliver(id, conn)
	return nil
}

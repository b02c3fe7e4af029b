package gateway

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/httpapi"
	"github.com/switchyard-ci/switchyard/hub/notify"
	"github.com/switchyard-ci/switchyard/hub/steptrace"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/metrics"
	"github.com/switchyard-ci/switchyard/wire"
)

func (g *Gateway) spokeByCredential(ctx context.Context, credential string) (*store.Spoke, error) {
	hash := store.HashToken(credential)
	if sp, ok := g.credentials.get(hash); ok {
		return &sp, nil
	}
	sp, err := g.store.SpokeByCredentialHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, httpapi.Errorf(http.StatusUnauthorized, "unknown spoke credential: join again")
	}
	if err != nil {
		return nil, err
	}
	g.credentials.put(hash, sp)
	return &sp, nil
}

// spokeJoin admits a spoke that shows a join token; the token decides its team
// (or the shared pool). The spoke gets a credential of its own for what follows.
func (g *Gateway) spokeJoin(w http.ResponseWriter, r *http.Request, _ *store.Spoke) error {
	var req wire.JoinRequest
	if err := httpapi.ReadJSON(r, 64<<10, &req); err != nil {
		return err
	}
	teamName, ok := "", false
	for tok, t := range g.cfg.SpokeTokens {
		if subtle.ConstantTimeCompare([]byte(tok), []byte(req.Token)) == 1 {
			teamName, ok = t, true
		}
	}
	if !ok && req.Token != "" {
		// A token made at run time (fly create-join-token).
		j, err := g.store.JoinTokenByHash(r.Context(), store.HashToken(req.Token))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		teamName, ok = j.TeamName, err == nil
	}
	if !ok {
		return httpapi.Errorf(http.StatusUnauthorized, "invalid join token")
	}
	if err := wire.ValidSpokeName(req.Name); err != nil {
		return httpapi.Errorf(http.StatusBadRequest, "%v", err)
	}
	var teamID int64
	if teamName != "" {
		t, err := g.store.TeamByName(r.Context(), teamName)
		if err != nil {
			return err
		}
		teamID = t.ID
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	credential := hex.EncodeToString(secret)
	var previous string
	if req.Credential != "" {
		previous = store.HashToken(req.Credential)
	}
	labels, _ := json.Marshal(req.Labels)
	capacity, _ := json.Marshal(req.Capacity)
	joined, err := g.store.RegisterSpoke(r.Context(), store.SpokeRegistration{Name: req.Name, TeamID: teamID, Runtime: req.Runtime,
		Labels: labels, Tags: req.Tags, Capacity: capacity, CredentialHash: store.HashToken(credential), PreviousHash: previous}, g.cfg.SpokeLease)
	if errors.Is(err, store.ErrSpokeNameTaken) {
		return httpapi.Errorf(http.StatusConflict, "%v", err)
	}
	if err != nil {
		return err
	}
	sp := joined.Spoke
	g.credentials.forget(sp.ID)
	if joined.Replaced != 0 {
		g.credentials.forget(joined.Replaced)
		g.loseSteps(r.Context(), joined.Replaced, sp.Name, fmt.Sprintf("spoke %s stopped renewing its lease and a new spoke joined under its name: the run is lost", sp.Name))
	}
	g.log.Info("spoke joined", "spoke", sp.Name, "team", teamName, "runtime", req.Runtime, "rejoined", previous != "" && joined.Replaced == 0 && sp.CredentialHash != "")
	return httpapi.WriteJSON(w, http.StatusOK, wire.JoinResponse{SpokeID: sp.ID, Credential: credential, LeaseSeconds: int(g.cfg.SpokeLease.Seconds())})
}

// loseSteps ends the open steps of a spoke that is gone as lost runs, so the
// engine runs them again elsewhere: they are never handed to another spoke's
// credential.
func (g *Gateway) loseSteps(ctx context.Context, spokeID int64, name, why string) {
	ids, err := g.store.OpenStepIDs(ctx, spokeID)
	if err != nil {
		g.log.Warn("list steps of a replaced spoke", "spoke", spokeID, "error", err.Error())
		return
	}
	for _, id := range ids {
		st, err := g.store.Step(ctx, id)
		if err != nil {
			g.log.WarnContext(ctx, "read step of a replaced spoke", slog.Int64("step_id", id), slog.String("error", err.Error()))
			continue
		}
		res := wire.Result{Fence: st.Fence, Error: why, Lost: true}
		raw, _ := json.Marshal(res)
		end := &store.StepEnd{State: store.StepErrored, Result: raw, Event: finishEvent(st, res)}
		ended, err := g.store.ReportStep(ctx, store.StepReport{StepID: id, SpokeID: spokeID, Fence: st.Fence}, nil, store.Event{}, end)
		if err != nil && !errors.Is(err, store.ErrStale) {
			g.log.WarnContext(ctx, "end step of a replaced spoke", slog.Int64("build_id", st.BuildID), slog.Int64("step_id", id), slog.String("error", err.Error()))
			continue
		}
		if err == nil {
			metrics.SpokeLosses.WithLabelValues(name).Inc()
			steptrace.End(ctx, st, name, res, false)
		}
		g.ended(st, end, ended)
	}
}

// ended tells the build's event readers and the engine that a step ended:
// stored says that end is how (the engine's waiter then takes it without
// reading it back); otherwise the waiter reads what the store has.
func (g *Gateway) ended(st store.Step, end *store.StepEnd, stored bool) {
	g.notify.Notify(notify.EventsKey(st.BuildID))
	if stored {
		g.waker.StepEnded(st.BuildID, st.ID, end.State, end.Result)
	} else {
		g.waker.Wake(st.BuildID)
	}
}

func (g *Gateway) spokeHeartbeat(w http.ResponseWriter, r *http.Request, sp *store.Spoke) error {
	var hb wire.Heartbeat
	if r.ContentLength != 0 {
		if err := httpapi.ReadJSON(r, 4<<20, &hb); err != nil {
			return err
		}
	}
	state, err := g.store.RenewSpokeLease(r.Context(), sp.ID, g.cfg.SpokeLease)
	if errors.Is(err, store.ErrNotFound) {
		g.credentials.forget(sp.ID)
		return httpapi.Errorf(http.StatusUnauthorized, "spoke %s was removed from the fleet (pruned or retired)", sp.Name)
	}
	if err != nil {
		return err
	}
	metrics.LeaseRenewals.WithLabelValues(sp.Name).Inc()
	if err := g.store.SetArtifactHolders(r.Context(), sp.ID, nil, hb.Evicted); err != nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusOK, wire.HeartbeatResponse{State: state})
}

// spokeSteps long-polls for the spoke's steps: it answers as soon as the open
// steps differ from the ids the spoke says it runs (?running=1,2), or after
// wait, with the new assignments in full and the rest as ids.
func (g *Gateway) spokeSteps(w http.ResponseWriter, r *http.Request, sp *store.Spoke) error {
	known := map[int64]bool{}
	for _, f := range strings.Split(r.URL.Query().Get("running"), ",") {
		if id, err := strconv.ParseInt(f, 10, 64); err == nil {
			known[id] = true
		}
	}
	seen := map[int64]bool{} // intercepts the spoke has dialed for already
	for _, f := range strings.Split(r.URL.Query().Get("intercepts"), ",") {
		if id, err := strconv.ParseInt(f, 10, 64); err == nil {
			seen[id] = true
		}
	}
	wait := 20 * time.Second
	if v, err := time.ParseDuration(r.URL.Query().Get("wait")); err == nil && v >= 0 && v < wait {
		wait = v
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	for {
		changed := g.notify.Watch(notify.SpokeKey(sp.ID))
		open, err := g.store.OpenStepIDs(r.Context(), sp.ID)
		if err != nil {
			return err
		}
		var fresh []int64
		for _, id := range open {
			if !known[id] {
				fresh = append(fresh, id)
			}
		}
		waiting, err := g.store.WaitingIntercepts(r.Context(), sp.ID)
		if err != nil {
			return err
		}
		var intercepts []store.Intercept
		for _, in := range waiting {
			if !seen[in.ID] {
				intercepts = append(intercepts, in)
			}
		}
		if len(fresh) > 0 || len(open) != len(known) || len(intercepts) > 0 || ctx.Err() != nil {
			out := wire.Steps{Open: open, New: []wire.Assignment{}}
			for _, in := range intercepts {
				out.Intercepts = append(out.Intercepts, wire.Intercept{ID: in.ID, StepID: in.StepID})
			}
			steps, err := g.store.StepsByID(r.Context(), fresh)
			if err != nil {
				return err
			}
			for _, st := range steps {
				a := wire.Assignment{StepID: st.ID, Fence: st.Fence, BuildID: st.BuildID, PlanID: st.PlanID, Attempt: st.Attempt, Run: st.Run,
					Started: st.State == store.StepRunning}
				if err := json.Unmarshal(st.Request, &a.Request); err != nil {
					return err
				}
				resolved, varErr, err := g.resolve(r.Context(), st, a.Request)
				if err != nil {
					return err
				}
				if varErr != nil {
					g.errorStep(r.Context(), st, varErr)
					continue
				}
				a.Request, a.Redact = resolved.Request, resolved.Secrets
				out.New = append(out.New, a)
				g.assigned.put(st)
			}
			return httpapi.WriteJSON(w, http.StatusOK, out)
		}
		notify.Await(ctx, changed, time.Second)
	}
}

func stepID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, httpapi.Errorf(http.StatusBadRequest, "step id must be a number")
	}
	return id, nil
}

// reportError maps a stale or foreign report to 409, which tells the spoke to
// stop the step: someone else owns it now.
func reportError(err error) error {
	switch {
	case errors.Is(err, store.ErrStale):
		return httpapi.Errorf(http.StatusConflict, "stale report: the step belongs to another spoke or attempt; stop it")
	case errors.Is(err, store.ErrNotFound):
		return httpapi.Errorf(http.StatusNotFound, "step not found")
	}
	return err
}

// reportOn reads a spoke's call about a step: the step id in the path, the
// body (at most limit bytes) into body, and the step as it was handed out
// (fresh: as the store has it now).
func (g *Gateway) reportOn(r *http.Request, limit int64, body any, fresh bool) (store.Step, error) {
	id, err := stepID(r)
	if err != nil {
		return store.Step{}, err
	}
	if err := httpapi.ReadJSON(r, limit, body); err != nil {
		return store.Step{}, err
	}
	var st store.Step
	if fresh {
		st, err = g.store.Step(r.Context(), id)
	} else {
		st, err = g.step(r.Context(), id)
	}
	if err != nil {
		return store.Step{}, reportError(err)
	}
	return st, nil
}

func (g *Gateway) spokeLogs(w http.ResponseWriter, r *http.Request, sp *store.Spoke) error {
	var batch wire.LogBatch
	st, err := g.reportOn(r, 4<<20, &batch, false)
	if err != nil {
		return err
	}
	rep := store.StepReport{StepID: st.ID, SpokeID: sp.ID, Fence: batch.Fence}
	if _, err := g.store.ReportStep(r.Context(), rep, logLines(st, batch.Lines), startEvent(st), nil); err != nil {
		return reportError(err)
	}
	g.notify.Notify(notify.EventsKey(st.BuildID))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (g *Gateway) spokeResult(w http.ResponseWriter, r *http.Request, sp *store.Spoke) error {
	var res wire.Result
	st, err := g.reportOn(r, 4<<20, &res, false)
	if err != nil {
		return err
	}
	var arts []store.Artifact
	if len(res.Artifacts) > 0 {
		b, err := g.store.Build(r.Context(), st.BuildID)
		if err != nil {
			return err
		}
		if err := g.checkStoredArtifacts(r.Context(), b.TeamID, res.Artifacts); err != nil {
			res = wire.Result{Fence: res.Fence, Error: err.Error()} // the step's outputs are lost: it errors
		}
		for _, a := range res.Artifacts {
			arts = append(arts, store.Artifact{Name: a.Name, Digest: a.Digest, Size: a.Size})
		}
	}
	if res.Lost {
		metrics.SpokeLosses.WithLabelValues(sp.Name).Inc()
	}
	state := store.StepSucceeded
	switch {
	case res.Error != "":
		state = store.StepErrored
	case res.ExitStatus != 0:
		state = store.StepFailed
	}
	// The step's last lines and, when the spoke had not said so yet, that it
	// started come with its result: a short step reports in one call.
	var running store.Event
	if res.Started || len(res.Lines) > 0 {
		running = startEvent(st)
	}
	lines := logLines(st, res.Lines)
	res.Lines, res.Started = nil, false
	raw, _ := json.Marshal(res)
	rep := store.StepReport{StepID: st.ID, SpokeID: sp.ID, Fence: res.Fence}
	end := &store.StepEnd{State: state, Result: raw, Event: finishEvent(st, res), Artifacts: arts}
	stored, err := g.store.ReportStep(r.Context(), rep, lines, running, end)
	if err != nil {
		return reportError(err)
	}
	steptrace.End(r.Context(), st, sp.Name, res, false)
	g.assigned.drop(st.ID)
	if err := g.store.SetArtifactHolders(r.Context(), sp.ID, res.Fetched, nil); err != nil {
		g.log.Warn("record fetched artifacts", "spoke", sp.Name, "error", err.Error())
	}
	g.ended(st, end, stored)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// logLines are a spoke's lines of a step as build events.
func logLines(st store.Step, in []wire.LogLine) []store.LogLine {
	lines := make([]store.LogLine, 0, len(in))
	for _, l := range in {
		payload, _ := json.Marshal(api.LogEvent{Time: l.Time, Origin: api.Origin{ID: st.PlanID, Source: l.Source}, Payload: l.Text})
		lines = append(lines, store.LogLine{Seq: l.Seq, Event: event(api.EventLog, payload)})
	}
	return lines
}

func event(typ string, payload []byte) store.Event {
	return store.Event{Type: typ, Version: api.EventVersions[typ], Payload: payload}
}

// startEvent is the event that says a step began running.
func startEvent(st store.Step) store.Event {
	origin := api.Origin{ID: st.PlanID}
	now := time.Now().Unix()
	switch st.Kind {
	case wire.KindTask:
		var req wire.StepRequest
		_ = json.Unmarshal(st.Request, &req)
		payload, _ := json.Marshal(api.TaskEvent{Time: now, Origin: origin, Config: req.TaskEventConfig()})
		return event(api.EventStartTask, payload)
	case wire.KindGet:
		payload, _ := json.Marshal(api.StepEvent{Origin: origin, Time: now})
		return event(api.EventStartGet, payload)
	case wire.KindPut:
		payload, _ := json.Marshal(api.StepEvent{Origin: origin, Time: now})
		return event(api.EventStartPut, payload)
	case wire.KindCheck, wire.KindLoadVar:
		payload, _ := json.Marshal(api.StepEvent{Origin: origin, Time: now})
		return event(api.EventStart, payload)
	}
	return store.Event{}
}

// finishEvent is the event that says how a step ended.
func finishEvent(st store.Step, res wire.Result) store.Event {
	origin := api.Origin{ID: st.PlanID}
	now := time.Now().Unix()
	if res.Error != "" {
		msg := res.Error
		if res.Lost {
			var req wire.StepRequest
			_ = json.Unmarshal(st.Request, &req)
			switch {
			case !wire.RerunsWhenLost(st.Kind, req):
				msg += ": " + wire.PutNotRerun
			case st.Run < wire.MaxRuns:
				msg += fmt.Sprintf(": running the step again (run %d of at most %d)", st.Run+1, wire.MaxRuns)
			}
		}
		payload, _ := json.Marshal(api.ErrorEvent{Message: msg, Origin: origin, Time: now})
		return event(api.EventError, payload)
	}
	md := make([]api.MetadataField, 0, len(res.Metadata))
	for _, m := range res.Metadata {
		md = append(md, api.MetadataField(m))
	}
	switch st.Kind {
	case wire.KindTask:
		payload, _ := json.Marshal(api.FinishTaskEvent{Time: now, ExitStatus: res.ExitStatus, Origin: origin})
		return event(api.EventFinishTask, payload)
	case wire.KindGet, wire.KindPut:
		typ := api.EventFinishGet
		if st.Kind == wire.KindPut {
			typ = api.EventFinishPut
		}
		payload, _ := json.Marshal(api.FinishResourceEvent{Origin: origin, Time: now, ExitStatus: res.ExitStatus, Version: res.Version, Metadata: md})
		return event(typ, payload)
	case wire.KindCheck, wire.KindLoadVar:
		payload, _ := json.Marshal(api.FinishEvent{Origin: origin, Time: now, Succeeded: res.ExitStatus == 0})
		return event(api.EventFinish, payload)
	}
	return store.Event{}
}

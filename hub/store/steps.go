package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard-ci/switchyard/wire"
)

// StepState is where a run of a step is: pending (assigned to a spoke),
// running (the spoke reported it started), then one of the final states.
type StepState string

const (
	StepPending   StepState = "pending"
	StepRunning   StepState = "running"
	StepSucceeded StepState = "succeeded"
	StepFailed    StepState = "failed" // the task exited non-zero
	StepErrored   StepState = "errored"
	StepAborted   StepState = "aborted"
)

// StepStates lists every state; the database allows exactly these.
var StepStates = []StepState{StepPending, StepRunning, StepSucceeded, StepFailed, StepErrored, StepAborted}

// Open tells whether a run in the state may still report.
func (s StepState) Open() bool { return s == StepPending || s == StepRunning }

// Step is one get, put, task or check of a build, dispatched to a spoke.
type Step struct {
	ID      int64
	BuildID int64
	PlanID  string
	Attempt int
	Run     int // 1, then 2, 3, ... when runs are lost
	Kind    wire.StepKind
	SpokeID int64
	State   StepState
	Fence   int64
	Request json.RawMessage
	Result  json.RawMessage
	LogSeq  int64
	Created time.Time
}

const stepColumns = `id, build_id, plan_id, attempt, run, kind, COALESCE(spoke_id, 0), state, fence, request, COALESCE(result, 'null'), log_seq, created_at`

func (s *Store) scanStep(row pgx.Row) (Step, error) {
	var st Step
	err := row.Scan(&st.ID, &st.BuildID, &st.PlanID, &st.Attempt, &st.Run, &st.Kind, &st.SpokeID, &st.State, &st.Fence, &st.Request, &st.Result, &st.LogSeq, &st.Created)
	if err == nil {
		var req []byte
		if req, err = s.keys.open(st.Request); err == nil {
			st.Request = req
		}
	}
	if err == nil {
		var res []byte
		if res, err = s.keys.open(st.Result); err == nil {
			st.Result = res
		}
	}
	return st, err
}

// StepKey names a run of a step of a build. Run 0 means 1.
type StepKey struct {
	BuildID int64
	PlanID  string
	Attempt int
	Run     int
}

func (k StepKey) run() int { return max(k.Run, 1) }

// NewStep is a step as the engine creates it.
type NewStep struct {
	Kind    wire.StepKind
	SpokeID int64
	Request json.RawMessage
	CPU     float64 // what it asks of its spoke (container_limits)
	Memory  int64
	// Room is what the spoke offers (zero fields: no bound). The step is
	// created only if it fits beside the spoke's open steps, in the same
	// serializable transaction: two hub replicas placing at once cannot both
	// take a spoke's last room.
	Room Load
	// Placement is the decision that chose the spoke, recorded with the
	// step (nil: none to record).
	Placement *PlacementDecision
}

// Bounded tells whether creating the step checks its spoke's room: when the
// spoke bounds its steps, or the step asks for CPU or memory the spoke
// bounds. A step that asks for nothing the spoke counts always fits (it
// adds nothing to an overcommitted spoke either), and creating it reads no
// other step: concurrent creations do not conflict.
func (ns NewStep) Bounded() bool {
	r := ns.Room
	return r.Steps > 0 || (r.CPU > 0 && ns.CPU > 0) || (r.Memory > 0 && ns.Memory > 0)
}

// ErrSpokeFull is a step that no longer fits on the spoke it was placed on.
var ErrSpokeFull = errors.New("the spoke filled up as the step was placed")

// EnsureStep returns the build's step with key, creating it as ns with its
// first events if it does not exist yet. A hub that restarts mid-build gets
// the step it created before, so it re-attaches instead of starting the step
// again. buildFence must still be the build's fence.
//
// A step that checks no spoke's room is created by one statement, its own
// serializable transaction (one round trip, not five); one that does reads
// its spoke's load first, in a transaction.
func (s *Store) EnsureStep(ctx context.Context, k StepKey, buildFence int64, ns NewStep, events ...Event) (Step, error) {
	var st Step
	var err error
	if ns.SpokeID != 0 && ns.Bounded() {
		err = s.Tx(ctx, func(tx pgx.Tx) error {
			if err := checkFence(ctx, tx, k.BuildID, buildFence); err != nil {
				return err
			}
			// The step, if it exists, is counted in its spoke's load.
			if st, err = s.existingStep(ctx, tx, k); !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			if err := checkRoom(ctx, tx, ns); err != nil {
				return err
			}
			st, err = s.createStep(ctx, tx, k, buildFence, ns, events)
			return err
		})
	} else {
		err = retry(ctx, func() (err error) {
			st, err = s.createStep(ctx, s.pool, k, buildFence, ns, events)
			return err
		})
	}
	if errors.Is(err, pgx.ErrNoRows) {
		// A stale fence, or a step created before (returned as it was).
		if err = checkFence(ctx, s.reads, k.BuildID, buildFence); err == nil {
			st, err = s.existingStep(ctx, s.reads, k)
		}
	}
	if err != nil {
		return Step{}, fmt.Errorf("ensure step %s of build %d: %w", k.PlanID, k.BuildID, err)
	}
	return st, nil
}

// querier runs a statement in a transaction or on a pool.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func checkFence(ctx context.Context, q querier, buildID, buildFence int64) error {
	var fence int64
	if err := q.QueryRow(ctx, `SELECT fence FROM builds WHERE id = $1`, buildID).Scan(&fence); err != nil {
		return err
	}
	if fence != buildFence {
		return ErrStale
	}
	return nil
}

func (s *Store) existingStep(ctx context.Context, q querier, k StepKey) (Step, error) {
	return s.scanStep(q.QueryRow(ctx, `SELECT `+stepColumns+` FROM build_steps WHERE build_id = $1 AND plan_id = $2 AND attempt = $3 AND run = $4`,
		k.BuildID, k.PlanID, k.Attempt, k.run()))
}

// createStep inserts the step with its placement and events in one
// statement, if the build's fence is still buildFence and the step does
// not exist yet (pgx.ErrNoRows otherwise). It reads no key range before the
// insert: the predicate lock of such a read failed other builds' creations
// as pivots.
func (s *Store) createStep(ctx context.Context, q querier, k StepKey, buildFence int64, ns NewStep, events []Event) (Step, error) {
	var spoke *int64
	if ns.SpokeID != 0 {
		spoke = &ns.SpokeID
	}
	pl := PlacementDecision{Decision: json.RawMessage(`null`)} // not saved: a valid value all the same
	if ns.Placement != nil {
		pl = *ns.Placement
	}
	types, versions, payloads := eventColumns(events)
	return s.scanStep(q.QueryRow(ctx, `
		WITH created AS (
			INSERT INTO build_steps (build_id, plan_id, attempt, run, kind, spoke_id, request, cpu, memory)
			SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 FROM builds WHERE id = $1 AND fence = $10
			ON CONFLICT (build_id, plan_id, attempt, run) DO NOTHING RETURNING *),
		placed AS (
			INSERT INTO placement_decisions (build_id, plan_id, step_name, spoke, decision)
			SELECT $1, $2, $11, $12, $13 FROM created WHERE $14
			ON CONFLICT (build_id, plan_id) DO UPDATE
			SET spoke = excluded.spoke, decision = excluded.decision, created_at = now() WHERE placement_decisions.spoke = ''),
		next AS (
			UPDATE builds SET event_seq = event_seq + $15 FROM created
			WHERE builds.id = $1 AND $15 > 0 RETURNING builds.event_seq - $15 AS last),
		logged AS (`+insertEvents("next", 16)+`)
		SELECT `+stepColumns+` FROM created`,
		k.BuildID, k.PlanID, k.Attempt, k.run(), ns.Kind, spoke, s.keys.sealText(ns.Request), ns.CPU, ns.Memory, buildFence,
		pl.StepName, pl.Spoke, string(pl.Decision), ns.Placement != nil, len(types), types, versions, payloads))
}

// checkRoom fails with ErrSpokeFull when the step does not fit beside its
// spoke's open steps.
func checkRoom(ctx context.Context, tx pgx.Tx, ns NewStep) error {
	if !ns.Bounded() {
		return nil
	}
	r := ns.Room
	var l Load
	if err := tx.QueryRow(ctx, `SELECT count(*), COALESCE(sum(cpu), 0), COALESCE(sum(memory), 0)::BIGINT FROM build_steps
		WHERE spoke_id = $1 AND state IN ('pending', 'running')`, ns.SpokeID).Scan(&l.Steps, &l.CPU, &l.Memory); err != nil {
		return err
	}
	if (r.Steps > 0 && l.Steps+1 > r.Steps) || (r.CPU > 0 && l.CPU+ns.CPU > r.CPU) || (r.Memory > 0 && l.Memory+ns.Memory > r.Memory) {
		return ErrSpokeFull
	}
	return nil
}

// StepByKey returns a run of a build's step.
func (s *Store) StepByKey(ctx context.Context, k StepKey) (Step, error) {
	st, err := s.scanStep(s.row(ctx, `SELECT `+stepColumns+` FROM build_steps WHERE build_id = $1 AND plan_id = $2 AND attempt = $3 AND run = $4`,
		k.BuildID, k.PlanID, k.Attempt, k.run()))
	if errors.Is(err, pgx.ErrNoRows) {
		return Step{}, fmt.Errorf("step %s of build %d: %w", k.PlanID, k.BuildID, ErrNotFound)
	}
	return st, err
}

// Step returns a step by id.
func (s *Store) Step(ctx context.Context, id int64) (Step, error) {
	st, err := s.scanStep(s.row(ctx, `SELECT `+stepColumns+` FROM build_steps WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Step{}, fmt.Errorf("step %d: %w", id, ErrNotFound)
	}
	return st, err
}

// EndedSteps returns those of the steps that are no longer pending or
// running.
func (s *Store) EndedSteps(ctx context.Context, ids []int64) ([]int64, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT id FROM build_steps WHERE id = ANY($1) AND state NOT IN ('pending', 'running')`, ids)
	}, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("read ended steps: %w", err)
	}
	return out, nil
}

// OpenStepIDs lists the ids of the pending and running steps assigned to a
// spoke (an index-only read, for long polls that run often).
func (s *Store) OpenStepIDs(ctx context.Context, spokeID int64) ([]int64, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT id FROM build_steps
		WHERE spoke_id = $1 AND state IN ('pending', 'running') ORDER BY id LIMIT 1000`, spokeID)
	}, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list steps of spoke %d: %w", spokeID, err)
	}
	return out, nil
}

// Load is what a spoke's open steps take.
type Load struct {
	Steps  int
	CPU    float64
	Memory int64
}

// SpokeLoad is a spoke with what its open (pending and running) steps
// take.
type SpokeLoad struct {
	Spoke
	Load  Load
	Tasks int // open task steps, for the worker metrics
}

// SpokeLoads lists the spokes that are not gone with their loads, for
// placement: one query.
func (s *Store) SpokeLoads(ctx context.Context) ([]SpokeLoad, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT `+spokeColumns+`, COALESCE(l.steps, 0), COALESCE(l.cpu, 0), COALESCE(l.memory, 0), COALESCE(l.tasks, 0)
			FROM spokes s LEFT JOIN teams t ON t.id = s.team_id
			LEFT JOIN (SELECT spoke_id, count(*) AS steps, sum(cpu) AS cpu, sum(memory)::BIGINT AS memory,
				count(*) FILTER (WHERE kind = 'task') AS tasks FROM build_steps
				WHERE spoke_id IS NOT NULL AND state IN ('pending', 'running') GROUP BY spoke_id) AS l ON l.spoke_id = s.id
			WHERE s.state <> 'gone' ORDER BY s.name LIMIT 10000`)
	}, func(r pgx.CollectableRow) (SpokeLoad, error) {
		var sl SpokeLoad
		err := r.Scan(append(spokeFields(&sl.Spoke), &sl.Load.Steps, &sl.Load.CPU, &sl.Load.Memory, &sl.Tasks)...)
		return sl, err
	})
	if err != nil {
		return nil, fmt.Errorf("list spokes with their loads: %w", err)
	}
	return out, nil
}

// StepsByID returns the steps with the given ids.
func (s *Store) StepsByID(ctx context.Context, ids []int64) ([]Step, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT `+stepColumns+` FROM build_steps WHERE id = ANY($1) ORDER BY id`, ids)
	}, func(r pgx.CollectableRow) (Step, error) { return s.scanStep(r) })
	if err != nil {
		return nil, fmt.Errorf("get steps: %w", err)
	}
	return out, nil
}

// StepReport identifies who reports on a step: the spoke, and the step's fence
// as the spoke received it. Reports with another spoke or an old fence are stale.
type StepReport struct {
	StepID  int64
	SpokeID int64
	Fence   int64
}

func (s *Store) checkReport(ctx context.Context, tx pgx.Tx, r StepReport) (Step, error) {
	st, err := s.scanStep(tx.QueryRow(ctx, `SELECT `+stepColumns+` FROM build_steps WHERE id = $1`, r.StepID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Step{}, ErrNotFound
	}
	if err != nil {
		return Step{}, err
	}
	if st.SpokeID != r.SpokeID || st.Fence != r.Fence {
		return Step{}, ErrStale
	}
	return st, nil
}

// LogLine is one line of a step's output, numbered by the spoke from 1.
type LogLine struct {
	Seq   int64
	Event Event
}

// StepEnd is how a step ended, as its spoke reports it.
type StepEnd struct {
	State     StepState
	Result    json.RawMessage
	Event     Event // the event that says how it ended
	Artifacts []Artifact
}

// ReportStep stores what a spoke reports of a step, in one transaction,
// once it has checked that the report comes from the step's spoke with its
// fence (ErrStale otherwise):
//   - running (when it has a type) marks a pending step running, with that
//     event first;
//   - the log lines the step has not stored yet become build events, in
//     order; lines resent after a reconnect are dropped, a gap is an error.
//     Lines must be sorted by Seq;
//   - end, when not nil, records the result, the artifacts the step
//     produced and its event, once: a repeated end is a no-op, and so is an
//     end that comes after the step ended otherwise (aborted, lost).
//
// ended says that this report stored end (the step ended as end says).
// A short step's lines and end come in one report. A report that is the
// spoke's, in order and without artifacts (the common case) is one
// statement, its own serializable transaction; any other is read and
// written in a transaction that says what is wrong with it.
func (s *Store) ReportStep(ctx context.Context, r StepReport, lines []LogLine, running Event, end *StepEnd) (ended bool, err error) {
	if end == nil || len(end.Artifacts) == 0 {
		done, err := s.reportAtOnce(ctx, r, lines, running, end)
		if err != nil {
			return false, fmt.Errorf("report of step %d: %w", r.StepID, err)
		}
		if done {
			return end != nil, nil
		}
	}
	return s.reportInTx(ctx, r, lines, running, end)
}

// reportSet and reportWhere are how both ways of storing a report update
// the step, with $1 the step, $2 the spoke, $3 the fence, $4 the end state
// (NULL: none), $5 whether it says the step started, $6 its last line's
// number and $7 the result (NULL: none). The step is found by its key
// alone: spoke_id + 0 keeps the planner off the index of a spoke's open
// steps, which it takes while the table's statistics are young, and a
// serializable scan of which conflicts with every other step of the spoke.
const (
	reportSet = `state = CASE WHEN $4::TEXT IS NOT NULL THEN $4 WHEN $5 AND s.state = 'pending' THEN 'running' ELSE s.state END,
		log_seq = GREATEST(s.log_seq, $6),
		result = COALESCE($7, s.result),
		finished_at = CASE WHEN $7::TEXT IS NULL THEN s.finished_at ELSE now() END`
	reportWhere = `s.id = $1 AND s.spoke_id + 0 = $2 AND s.fence = $3 AND s.state IN ('pending', 'running')`
)

// endValues are a report's end state and result as the update takes them
// (sealed, like the request: a load_var's file may be a secret).
func (s *Store) endValues(end *StepEnd) (*StepState, *string) {
	if end == nil {
		return nil, nil
	}
	raw := s.keys.sealText(end.Result)
	return &end.State, &raw
}

// reportAtOnce stores a report in one statement: the step is updated only
// if the report is its spoke's, with its fence, while it is open, and the
// report's first line follows the last one stored; the events that are new
// (the start if the step was pending, the lines not stored yet, the end)
// are appended in the same statement. done is false when the update did
// not apply: reportInTx then finds out why.
func (s *Store) reportAtOnce(ctx context.Context, r StepReport, lines []LogLine, running Event, end *StepEnd) (done bool, err error) {
	var first, last int64
	for i, l := range lines {
		if i > 0 && l.Seq != lines[i-1].Seq+1 {
			return false, nil // not in order: reportInTx says so
		}
	}
	if len(lines) > 0 {
		first, last = lines[0].Seq, lines[len(lines)-1].Seq
	}
	// The events in order, each with what decides whether it is new: 0 the
	// start (new if the step was pending), a line's number (new past the
	// last stored), -1 the end (always).
	var seqs []int64
	var events []Event
	if running.Type != "" {
		seqs, events = append(seqs, 0), append(events, running)
	}
	for _, l := range lines {
		seqs, events = append(seqs, l.Seq), append(events, l.Event)
	}
	endState, result := s.endValues(end)
	if end != nil && end.Event.Type != "" {
		seqs, events = append(seqs, -1), append(events, end.Event)
	}
	types, versions, payloads := make([]string, len(events)), make([]string, len(events)), make([]string, len(events))
	for i, e := range events {
		types[i], versions[i], payloads[i] = e.Type, e.Version, string(e.Payload)
	}
	err = retry(ctx, func() error {
		var was StepState
		err := s.pool.QueryRow(ctx, `
			WITH old AS (SELECT state, log_seq FROM build_steps WHERE id = $1),
			updated AS (
				UPDATE build_steps s SET `+reportSet+` FROM old
				WHERE `+reportWhere+` AND ($8 = 0 OR old.log_seq >= $8 - 1)
				RETURNING s.build_id, old.state AS was, old.log_seq AS seen),
			fresh AS (
				SELECT updated.build_id, e.event_type, e.version, e.payload, row_number() OVER (ORDER BY e.n) AS k
				FROM updated, unnest($9::BIGINT[], $10::TEXT[], $11::TEXT[], $12::TEXT[]) WITH ORDINALITY AS e (seq, event_type, version, payload, n)
				WHERE (e.seq = 0 AND updated.was = 'pending') OR e.seq > updated.seen OR e.seq = -1),
			next AS (
				UPDATE builds SET event_seq = event_seq + (SELECT count(*) FROM fresh) FROM updated
				WHERE builds.id = updated.build_id AND EXISTS (SELECT 1 FROM fresh)
				RETURNING builds.event_seq - (SELECT count(*) FROM fresh) AS last),
			logged AS (
				INSERT INTO build_events (build_id, seq, event_type, version, payload)
				SELECT fresh.build_id, next.last + fresh.k, fresh.event_type, fresh.version, fresh.payload::JSONB FROM next, fresh)
			SELECT was FROM updated`,
			r.StepID, r.SpokeID, r.Fence, endState, running.Type != "", last, result, first,
			seqs, types, versions, payloads).Scan(&was)
		done = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	return done, err
}

// reportInTx stores a report in a transaction that reads the step first.
func (s *Store) reportInTx(ctx context.Context, r StepReport, lines []LogLine, running Event, end *StepEnd) (ended bool, err error) {
	var lastSeq int64
	if len(lines) > 0 {
		lastSeq = lines[len(lines)-1].Seq
	}
	endState, result := s.endValues(end)
	err = s.Tx(ctx, func(tx pgx.Tx) error {
		ended = false
		// One statement checks whose report it is, reads the step as it
		// was and writes what the report changes; a report it refuses is
		// read again below to say why.
		var was StepState
		var seen int64
		row := tx.QueryRow(ctx, `UPDATE build_steps s SET `+reportSet+`
			FROM (SELECT state, log_seq FROM build_steps WHERE id = $1) AS o
			WHERE `+reportWhere+`
			RETURNING o.state, o.log_seq, s.id, s.build_id, COALESCE(s.spoke_id, 0)`,
			r.StepID, r.SpokeID, r.Fence, endState, running.Type != "", lastSeq, result)
		var st Step
		err := row.Scan(&was, &seen, &st.ID, &st.BuildID, &st.SpokeID)
		if errors.Is(err, pgx.ErrNoRows) {
			_, err := s.checkReport(ctx, tx, r)
			return err // not found, stale, or ended before (a repeated report: nil)
		}
		if err != nil {
			return err
		}
		events := make([]Event, 0, len(lines)+2)
		if running.Type != "" && was == StepPending {
			events = append(events, running)
		}
		last := seen
		for _, l := range lines {
			if l.Seq != last+1 {
				if l.Seq <= last {
					continue // already stored
				}
				return fmt.Errorf("log line %d arrived before line %d", l.Seq, last+1)
			}
			events = append(events, l.Event)
			last = l.Seq
		}
		if end != nil {
			events = append(events, end.Event)
			if err := recordArtifacts(ctx, tx, st, end.Artifacts); err != nil {
				return err
			}
		}
		ended = end != nil
		return appendEvents(ctx, tx, st.BuildID, events...)
	})
	if err != nil {
		return false, fmt.Errorf("report of step %d: %w", r.StepID, err)
	}
	return ended, nil
}

// AbortSteps marks a build's open steps aborted (their spokes see it and stop).
func (s *Store) AbortSteps(ctx context.Context, buildID int64) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE build_steps SET state = 'aborted', finished_at = now()
			WHERE build_id = $1 AND state IN ('pending', 'running')`, buildID)
		return err
	})
	if err != nil {
		return fmt.Errorf("abort steps of build %d: %w", buildID, err)
	}
	return nil
}

// AbortStep marks one open step aborted: its spoke stops it.
func (s *Store) AbortStep(ctx context.Context, id int64) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE build_steps SET state = 'aborted', finished_at = now()
			WHERE id = $1 AND state IN ('pending', 'running')`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("abort step %d: %w", id, err)
	}
	return nil
}
